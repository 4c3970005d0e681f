"""``orderlog serve | workspace | key | screen | webhook | demo``.

Admin commands work against the same store as ``serve`` (same ``--data-dir`` or ``REDIS_URL``),
whether the server is running or not: with an embedded store they use the running instance, or
start one for the command.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import socket
import sys
import tempfile
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson

from orderlog.domain import screens, webhooks
from orderlog.errors import OrderLogError
from orderlog.keys import Keys
from orderlog.ops.logging import log_config
from orderlog.ops.serving import CannotListen, listen, uvicorn_options
from orderlog.sealing import server_sealer
from orderlog.settings import SECRETS, Flag, Settings, flags, markdown_table
from orderlog.store.client import Loading, describe_loading, loading, make_redis, wait_loaded
from orderlog.store.embedded import EmbeddedError, store_url
from orderlog.store.screens import ScreenStore
from orderlog.store.webhooks import WebhookStore
from orderlog.store.workspaces import WorkspaceStore

STARTUP_FAILURE = 3  # uvicorn's exit status when the app could not start


def _settings(args: argparse.Namespace) -> Settings:
    """The environment's settings, overridden by the flags given on the command line."""
    return Settings.from_env(**{f.name: getattr(args, f.name, None) for f in flags()})


def _flags(sp: argparse.ArgumentParser, names: tuple[str, ...] | None = None) -> None:
    """Options for the settings that have a flag (settings.py says which, with their help)."""
    for flag in flags():
        if names is None or flag.name in names:
            sp.add_argument(flag.flag, dest=flag.name, type=_typed(flag), help=flag.help)


def _typed(flag: Flag) -> Callable[[str], Any]:
    def parse(raw: str) -> Any:
        try:
            return flag.parse(raw)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a valid value: {raw!r}") from None

    return parse


def _with_workspaces(settings: Settings, fn: Callable[[WorkspaceStore], Awaitable[Any]]) -> Any:
    return _with_screens(settings, lambda s: fn(s.workspaces))


def _with_screens(settings: Settings, fn: Callable[[ScreenStore], Awaitable[Any]]) -> Any:
    async def run(url: str) -> Any:
        redis = make_redis(url, timeout=settings.redis_timeout)
        keys = Keys(settings.key_prefix)
        try:
            await wait_loaded(redis, _loading_progress)
            return await fn(ScreenStore(redis, keys, WorkspaceStore(redis, keys)))
        finally:
            await redis.aclose()

    with store_url(settings.redis_url, settings.data_dir, settings.appendfsync, share=True) as url:
        return asyncio.run(run(url))


def _with_webhooks(
    settings: Settings, fn: Callable[[WorkspaceStore, WebhookStore], Awaitable[Any]]
) -> Any:
    async def run(url: str) -> Any:
        redis = make_redis(url, timeout=settings.redis_timeout)
        keys = Keys(settings.key_prefix)
        try:
            hooks = WebhookStore(redis, keys, server_sealer(settings))
            return await fn(WorkspaceStore(redis, keys), hooks)
        finally:
            await redis.aclose()

    with store_url(settings.redis_url, settings.data_dir, settings.appendfsync, share=True) as url:
        return asyncio.run(run(url))


def _print(args: argparse.Namespace, data: Any, text: str) -> None:
    if getattr(args, "json", False):
        sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        sys.stdout.write(text.rstrip("\n") + "\n")


# -- workspace / key ---------------------------------------------------------------------------
def cmd_workspace_create(args: argparse.Namespace) -> None:
    ws_id, keys = _with_workspaces(_settings(args), lambda s: s.create_workspace(args.name))
    lines = [f"workspace {ws_id} ({args.name})"]
    lines += [f"  {scope:5} key: {raw}" for scope, raw in keys.items()]
    lines.append("Keys are shown once; orderlog keeps only their hashes.")
    _print(args, {"workspace_id": ws_id, "name": args.name, "keys": keys}, "\n".join(lines))


def cmd_workspace_list(args: argparse.Namespace) -> None:
    items = _with_workspaces(_settings(args), lambda s: s.list_workspaces())
    text = "\n".join(f"{w['id']}  {w['name']}  (created {w['created_at']})" for w in items)
    _print(args, {"workspaces": items}, text or "no workspaces")


def cmd_key_create(args: argparse.Namespace) -> None:
    key_id, raw = _with_workspaces(
        _settings(args), lambda s: s.create_key(args.workspace, args.scope, args.label or "")
    )
    _print(
        args,
        {
            "key_id": key_id,
            "key": raw,
            "scope": args.scope,
            "workspace_id": args.workspace,
            "label": args.label or "",
        },
        f"{args.scope} key {key_id} for {args.workspace}:\n  {raw}\nShown once.",
    )


def cmd_key_list(args: argparse.Namespace) -> None:
    keys = _with_workspaces(_settings(args), lambda s: s.list_keys(args.workspace))
    text = "\n".join(
        f"{k['key_id']}  {k['scope']:5}  {k['label'] or '-'}"
        + (f"  revoked {k['revoked_at']}" if k["revoked_at"] else "")
        for k in keys
    )
    _print(args, {"keys": keys}, text or "no keys")


def cmd_key_revoke(args: argparse.Namespace) -> None:
    result = _with_workspaces(_settings(args), lambda s: s.revoke_key(args.key_id))
    _print(args, result, f"key {args.key_id} revoked")


# -- webhook -----------------------------------------------------------------------------------
def _csv(raw: str | None) -> list[str] | None:
    return None if raw is None else [p.strip() for p in raw.split(",") if p.strip()]


def cmd_webhook_add(args: argparse.Namespace) -> None:
    settings = _settings(args)
    body: dict[str, Any] = {"url": args.url, "format": args.format, "label": args.label or ""}
    if args.events is not None:
        body["events"] = _csv(args.events)
    if args.statuses is not None:
        body["statuses"] = _csv(args.statuses)

    async def add(workspaces: WorkspaceStore, store: WebhookStore) -> dict[str, Any]:
        await workspaces.workspace(args.workspace)
        workflow = await workspaces.workflow(args.workspace)
        spec = webhooks.parse_spec(
            body, workflow.names, allow_private=settings.webhook_allow_private
        )
        hook, secret = await store.create(args.workspace, spec)
        return {**hook.to_json(), "workspace_id": args.workspace, "secret": secret}

    made = _with_webhooks(settings, add)
    lines = [f"webhook {made['id']} ({made['format']}) -> {made['url']}"]
    if made["secret"]:
        lines += [f"  signing secret: {made['secret']}", "Shown once; keep it with the receiver."]
    _print(args, made, "\n".join(lines))


def cmd_webhook_list(args: argparse.Namespace) -> None:
    async def listing(workspaces: WorkspaceStore, store: WebhookStore) -> list[dict[str, Any]]:
        await workspaces.workspace(args.workspace)
        return [
            {**h.to_json(), "health": await store.health(h)}
            for h in await store.all(args.workspace)
        ]

    items = _with_webhooks(_settings(args), listing)
    text = "\n".join(
        f"{w['id']}  {w['format']:7}  {w['health']['state']:8}  {w['url']}"
        + (f"  ({w['label']})" if w["label"] else "")
        for w in items
    )
    _print(args, {"webhooks": items}, text or "no webhooks")


def cmd_webhook_remove(args: argparse.Namespace) -> None:
    async def remove(workspaces: WorkspaceStore, store: WebhookStore) -> None:
        await store.delete(args.workspace, args.webhook_id)

    _with_webhooks(_settings(args), remove)
    _print(args, {"id": args.webhook_id, "deleted": True}, f"webhook {args.webhook_id} removed")


# -- screens -----------------------------------------------------------------------------------
def cmd_screen_pair(args: argparse.Namespace) -> None:
    """Approve the screen showing CODE (the operator at the server's console is the owner: no
    admin key, and no approval rate limit, as with every admin command)."""
    code = screens.normalize_code(args.code)
    grant = screens.grant(
        {
            "role": args.role,
            "station": args.station or "",
            "can_bump": args.bump,
            "label": args.label or "",
        }
    )
    screen = _with_screens(_settings(args), lambda s: s.approve(args.workspace, code, grant))
    bump = "may bump" if screen["can_bump"] else "read only"
    _print(
        args,
        screen,
        f"paired screen {screen['screen_id']}: {screen['label']} ({screen['role']}, {bump}); "
        f"it opens {screen['page']} within a few seconds",
    )


def cmd_screen_list(args: argparse.Namespace) -> None:
    items = _with_screens(_settings(args), lambda s: s.list(args.workspace))
    text = "\n".join(
        f"{s['screen_id']}  {s['role']:7}  {'bump' if s['can_bump'] else 'read':4}  "
        f"{s['label']}  last seen {s['last_seen'] or 'never'}"
        for s in items
    )
    _print(args, {"screens": items}, text or "no screens")


def cmd_screen_revoke(args: argparse.Namespace) -> None:
    result = _with_screens(_settings(args), lambda s: s.revoke(args.screen_id))
    _print(args, result, f"screen {args.screen_id} revoked (it shows a pairing code again)")


# -- settings ----------------------------------------------------------------------------------
def cmd_settings(args: argparse.Namespace) -> None:
    """Every setting with the value this environment gives it (secrets only say whether they are
    set); ``--markdown``: the table README.md shows."""
    if args.markdown:
        sys.stdout.write(markdown_table() + "\n")
        return
    current = Settings.from_env()
    rows = []
    for env, name, default, meaning in Settings.describe():
        value = getattr(current, name)
        shown = ",".join(value) if isinstance(value, tuple) else "" if value is None else str(value)
        if name in SECRETS and value:
            shown = "(set)"
        rows.append({"variable": env, "value": shown, "default": default, "meaning": meaning})
    text = "\n".join(f"{r['variable']}={r['value']}  # {r['meaning']}" for r in rows)
    _print(args, {"settings": rows}, text)


# -- serve -------------------------------------------------------------------------------------
async def first_run(url: str, settings: Settings) -> dict[str, Any] | None:
    """On an empty store: the demo workspace, returned with its keys (printed once). Waits for
    a Redis still loading its data first, with a progress line now and then."""
    redis = make_redis(url, timeout=settings.redis_timeout)
    try:
        await wait_loaded(redis, _loading_progress)
        store = WorkspaceStore(redis, Keys(settings.key_prefix))
        if not settings.demo_workspace or await store.any_workspace():
            return None
        ws_id, keys = await store.create_workspace("Demo cafe", demo=True)
        return {"workspace_id": ws_id, "keys": keys}
    finally:
        await redis.aclose()


def _loading_progress(nodes: list[Loading], waited: float) -> None:
    # stderr: admin commands keep stdout for their (--json) answer
    print(f"orderlog: {describe_loading(nodes)} ({waited:.0f} s so far)", file=sys.stderr)


async def _loading_now(url: str, settings: Settings) -> bool:
    redis = make_redis(url, timeout=settings.redis_timeout)
    try:
        return bool(await loading(redis))
    except OrderLogError:
        return False  # (the first run says why it cannot read the store)
    finally:
        await redis.aclose()


def _first_run(url: str, settings: Settings, base: str) -> None:
    """The first run's demo workspace and its keys, printed once (once Redis has its data)."""
    try:
        demo = asyncio.run(first_run(url, settings))
    except OrderLogError as exc:
        print(f"orderlog: no first-run check: {exc.message}", file=sys.stderr, flush=True)
        return
    if demo:
        ws, keys = demo["workspace_id"], demo["keys"]
        print(
            "\n  First run: created a demo workspace.\n"
            f"    workspace id: {ws}\n"
            f"    write key:    {keys['write']}\n"
            f"    read key:     {keys['read']}\n"
            f"    admin key:    {keys['admin']}\n"
            f"    dashboard:    {base}/#key={keys['read']}&workspace={ws}\n"
            f"    screens:      open {base}/kitchen.html on the screen and pair its code\n"
            "  Keys are shown once; orderlog keeps only their hashes. Lost one? Make another\n"
            f"  (same --data-dir or REDIS_URL): orderlog key create {ws} --scope read\n"
            f"  A simulated cafe fills it: orderlog demo --url {base}\n",
            flush=True,
        )


def cmd_serve(args: argparse.Namespace) -> None:
    settings = _settings(args)
    # The port first: taken, serve stops here, before Redis starts or a demo workspace exists.
    listener = listen(settings.host, settings.port)
    with listener, store_url(settings.redis_url, settings.data_dir, settings.appendfsync) as url:
        if settings.redis_url is None:
            print(
                f"orderlog: embedded Redis in {settings.data_dir.resolve()} "
                f"(appendfsync {settings.appendfsync})",
                flush=True,
            )
        base = f"http://{_display_host(settings.host)}:{listener.getsockname()[1]}"
        if asyncio.run(_loading_now(url, settings)):
            # A long load (a large AOF): serve meanwhile (/healthz answers, /readyz and every
            # request answer 503 until Redis has its data); the first run waits for it.
            print("orderlog: Redis is loading its data; serving meanwhile", flush=True)
            threading.Thread(
                target=_first_run, args=(url, settings, base), name="first-run", daemon=True
            ).start()
        else:
            _first_run(url, settings, base)
        # Worker processes build their app from the environment: hand them the resolved store.
        os.environ["REDIS_URL"] = url
        if settings.workers > 1:
            _metrics_dir(settings)
        print(f"orderlog: serving {base} (Ctrl-C stops)", flush=True)
        _run_uvicorn(settings, listener)


def _run_uvicorn(settings: Settings, listener: socket.socket) -> None:
    """uvicorn on the socket ``listen`` bound, as ``uvicorn.run`` would on its own."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    config = uvicorn.Config(
        "orderlog.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        timeout_graceful_shutdown=settings.shutdown_timeout,  # type: ignore[arg-type]
        log_config=log_config(settings.log_json),
        access_log=False,  # ours (http/middleware.py) logs route templates and key ids
        server_header=False,
        **uvicorn_options(settings),  # connection limits, header timeout (ops/serving.py)
    )
    if config.workers > 1:
        Multiprocess(config, sockets=[listener]).run()
        return
    server = uvicorn.Server(config)
    with contextlib.suppress(KeyboardInterrupt):
        server.run(sockets=[listener])
    if not server.started:
        sys.exit(STARTUP_FAILURE)


def _metrics_dir(settings: Settings) -> None:
    """Workers share their metrics through files (prometheus-client's multiprocess mode) in a
    directory emptied at each start; an operator's PROMETHEUS_MULTIPROC_DIR is kept."""
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if path is None:
        path = tempfile.mkdtemp(prefix="orderlog-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = path
    for stale in Path(path).glob("*.db"):
        stale.unlink()


def _display_host(host: str) -> str:
    return "127.0.0.1" if host in ("0.0.0.0", "::", "") else host


# -- demo --------------------------------------------------------------------------------------
DEMO_LABEL = "orderlog demo (revoked when it stops)"


async def _demo_keys(store: WorkspaceStore) -> tuple[str, dict[str, str], list[str]]:
    """The demo workspace (made, marked, if there is none) and a write and a read key for this
    run: (workspace id, {scope: key}, ids of the keys to revoke when the demo stops)."""
    workspace = await store.demo_workspace()
    if workspace is None:
        workspace, keys = await store.create_workspace("Demo cafe", demo=True)
        return workspace, keys, []
    made = {
        scope: await store.create_key(workspace, scope, DEMO_LABEL) for scope in ("write", "read")
    }
    return workspace, {s: raw for s, (_, raw) in made.items()}, [kid for kid, _ in made.values()]


async def _revoke(store: WorkspaceStore, key_ids: list[str]) -> None:
    for key_id in key_ids:
        await store.revoke_key(key_id)


def cmd_demo(args: argparse.Namespace) -> None:
    import random

    from orderlog import demo  # (imported here: only `orderlog demo` needs it)

    url = args.url.rstrip("/")
    workspace, key = args.workspace, args.key
    temporary: list[str] = []
    if key is None:
        if workspace is not None:
            sys.exit("orderlog: --workspace needs --key (a write key of that workspace)")
        workspace, keys, temporary = _with_workspaces(_settings(args), _demo_keys)
        key = keys["write"]
        if temporary:
            head = f"orderlog demo: filling the demo workspace {workspace} (Demo cafe)"
            tail = (
                "  This run's keys are revoked when the demo stops; the workspace's own keys\n"
                f"  keep working (lost them? orderlog key create {workspace} --scope read)."
            )
        else:
            head = f"orderlog demo: created the demo workspace {workspace} (Demo cafe)"
            tail = (
                f"  admin key: {keys['admin']}\n"
                "  Keys are shown once; orderlog keeps only their hashes. Lost one? Make another:\n"
                f"  orderlog key create {workspace} --scope read"
            )
        print(
            f"{head}\n"
            f"  owner pages: {url}/#key={keys['read']}&workspace={workspace}\n"
            f"  screens: open {url}/kitchen.html (or board.html, pickup.html) on the screen,\n"
            f"    then: orderlog screen pair CODE --workspace {workspace} --role kitchen --bump\n"
            f"{tail}\n"
            "  (To fill another workspace: --workspace W --key WRITE_KEY.)",
            flush=True,
        )
    elif workspace is None:
        sys.exit("orderlog: --key needs --workspace")
    cafe = demo.Cafe(random.Random(args.seed), rate=args.rate, speed=args.speed)
    client = demo.Client(url, workspace, key)
    log = (lambda _: None) if args.quiet else (lambda line: print(line, flush=True))
    try:
        counts = demo.run(client, cafe, duration=args.duration, log=log)
    finally:
        if temporary:
            _with_workspaces(_settings(args), lambda s: _revoke(s, temporary))
    print(
        f"orderlog demo: {counts['orders']} orders, {counts['changes']} changes, "
        f"{counts['failed']} failed",
        flush=True,
    )


# -- parser ------------------------------------------------------------------------------------
def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="orderlog", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)

    def store_opts(sp: argparse.ArgumentParser, json_flag: bool = True) -> None:
        _flags(sp, ("data_dir", "redis_url"))
        if json_flag:
            sp.add_argument("--json", action="store_true", help="machine-readable output")

    serve = sub.add_parser("serve", help="run the server (embedded Redis unless REDIS_URL)")
    _flags(serve)
    serve.set_defaults(func=cmd_serve)

    ws = sub.add_parser("workspace", help="create or list workspaces").add_subparsers(
        dest="action", required=True
    )
    create = ws.add_parser("create", help="a new workspace with a write, read and admin key")
    create.add_argument("name")
    store_opts(create)
    create.set_defaults(func=cmd_workspace_create)
    listing = ws.add_parser("list")
    store_opts(listing)
    listing.set_defaults(func=cmd_workspace_list)

    key = sub.add_parser("key", help="create, list or revoke API keys").add_subparsers(
        dest="action", required=True
    )
    kc = key.add_parser("create")
    kc.add_argument("workspace")
    kc.add_argument("--scope", required=True, choices=["write", "read", "admin"])
    kc.add_argument("--label")
    store_opts(kc)
    kc.set_defaults(func=cmd_key_create)
    kl = key.add_parser("list")
    kl.add_argument("workspace")
    store_opts(kl)
    kl.set_defaults(func=cmd_key_list)
    kr = key.add_parser("revoke")
    kr.add_argument("key_id")
    store_opts(kr)
    kr.set_defaults(func=cmd_key_revoke)
    hook = sub.add_parser(
        "webhook", help="add, list or remove webhooks (Discord channels, signed callbacks)"
    ).add_subparsers(dest="action", required=True)
    ha = hook.add_parser("add", help="a new webhook; its signing secret is shown once")
    ha.add_argument("workspace")
    ha.add_argument("url")
    ha.add_argument("--format", choices=list(webhooks.FORMATS), default="json")
    ha.add_argument(
        "--events",
        help=f"comma-separated, of {', '.join(webhooks.EVENTS)} "
        f"(default: {', '.join(webhooks.DEFAULT_EVENTS)})",
    )
    ha.add_argument("--statuses", help="comma-separated statuses an event must move an order to")
    ha.add_argument("--label")
    store_opts(ha)
    ha.set_defaults(func=cmd_webhook_add)
    hl = hook.add_parser("list", help="the workspace's webhooks and their health")
    hl.add_argument("workspace")
    store_opts(hl)
    hl.set_defaults(func=cmd_webhook_list)
    hr = hook.add_parser("remove", help="delete a webhook (and what it had not delivered)")
    hr.add_argument("workspace")
    hr.add_argument("webhook_id")
    store_opts(hr)
    hr.set_defaults(func=cmd_webhook_remove)
    scr = sub.add_parser(
        "screen", help="pair, list or revoke screens (a screen shows a code to pair)"
    ).add_subparsers(dest="action", required=True)
    sp = scr.add_parser("pair", help="approve the screen showing CODE")
    sp.add_argument("code", help="the six letters the screen shows")
    sp.add_argument("--workspace", required=True)
    sp.add_argument("--role", required=True, choices=screens.ROLES)
    sp.add_argument("--station", help="a kitchen screen's station (e.g. grill)")
    sp.add_argument("--bump", action="store_true", help="a kitchen screen may bump orders")
    sp.add_argument("--label", help="a name for the list (default: from the role)")
    store_opts(sp)
    sp.set_defaults(func=cmd_screen_pair)
    sl = scr.add_parser("list", help="the workspace's screens with their last-seen times")
    sl.add_argument("workspace")
    store_opts(sl)
    sl.set_defaults(func=cmd_screen_list)
    sr = scr.add_parser("revoke", help="a revoked screen goes back to its pairing code")
    sr.add_argument("screen_id")
    store_opts(sr)
    sr.set_defaults(func=cmd_screen_revoke)
    st = sub.add_parser("settings", help="every setting and the value this environment gives it")
    st.add_argument("--markdown", action="store_true", help="the README's settings table")
    st.add_argument("--json", action="store_true", help="machine-readable output")
    st.set_defaults(func=cmd_settings)
    dm = sub.add_parser("demo", help="simulate a busy cafe over HTTP (the dashboards come alive)")
    dm.add_argument("--url", default="http://127.0.0.1:8000", help="the running server")
    dm.add_argument("--workspace", help="workspace id (default: create a demo workspace)")
    dm.add_argument("--key", help="a write key of --workspace")
    dm.add_argument("--rate", type=float, default=6.0, help="new orders per minute")
    dm.add_argument("--speed", type=float, default=1.0, help="time factor (2 = twice as fast)")
    dm.add_argument("--duration", type=float, help="stop after this many seconds")
    dm.add_argument("--seed", type=int, help="random seed (a reproducible cafe)")
    dm.add_argument("--quiet", action="store_true", help="print only the summary")
    store_opts(dm, json_flag=False)
    dm.set_defaults(func=cmd_demo)
    return p


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    try:
        args.func(args)
    except OrderLogError as exc:
        if getattr(args, "json", False):
            sys.stdout.write(
                orjson.dumps({"error": exc.reason, "message": exc.message}).decode() + "\n"
            )
        sys.exit(f"orderlog: {exc.message}")
    except (EmbeddedError, CannotListen) as exc:
        sys.exit(f"orderlog: {exc}")
    except KeyboardInterrupt:
        pass
