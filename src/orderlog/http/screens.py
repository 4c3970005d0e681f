"""Screen pairing and paired screens over HTTP (RFC 8628's device flow; rules in
domain/screens.py, storage in store/screens.py).

A screen: ``POST /v1/pairings`` (no credentials) -> a code to show, a QR code of the page where an
owner types it, a device code to keep; then ``POST /v1/pairings/poll`` every few seconds until
the owner approved (``POST /v1/workspaces/{W}/screens``, admin) and the answer carries its screen
token. ``GET /v1/me`` says what any credential is (the pages check a key with it
before keeping it, and a paired screen whether it still may).

Guessing a code is bounded three ways: approvals need an admin key and are rate limited per
workspace (``APPROVALS``), a code lives 10 minutes and works once, and each outcome is counted in
``orderlog_screen_pairings_total``. The unauthenticated routes are rate limited per client
address (``STARTS``) and per pairing (``POLLS``).
"""

from __future__ import annotations

from typing import Any

import segno
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from orderlog.auth import bearer
from orderlog.domain import screens
from orderlog.domain.ratelimit import Limit, RateCheck
from orderlog.errors import InvalidInput, NotFound, RateLimited
from orderlog.http.common import WORKSPACE, JSONResponse, authorize, check_rate, read_json
from orderlog.http.middleware import KEY_ID, RATE
from orderlog.http.state import State, state

STARTS = Limit(rate=20 / 60, burst=20)  # pairings one client address may start: 20, then 20/min
POLLS = Limit(rate=1.0, burst=5)  # a screen polls every POLL_SECONDS
APPROVALS = Limit(rate=6 / 60, burst=10)  # approval attempts per workspace: 10, then 6/min
NO_STORE = {"Cache-Control": "no-store"}


def verification_uri(request: Request, code: str | None = None) -> str:
    """Where an owner approves a screen: the sign-in page's pairing form (with the code)."""
    base = str(request.base_url).rstrip("/")
    return f"{base}/index.html?pair={code}#pair" if code else f"{base}/index.html#pair"


def qr_code(text: str) -> str:
    """``text`` as a QR code, an SVG ``data:`` URI (the CSP allows data: images; nothing is
    fetched from elsewhere). Error correction M: still readable with a glare on a TV."""
    code = segno.make(text, error="m", micro=False)
    return str(code.svg_data_uri(scale=1, border=4, omitsize=True, dark="#000", light="#fff"))


async def _limited(st: State, outcome: str, check: Any) -> Any:
    try:
        return await check
    except RateLimited:
        st.metrics.pairings.labels(outcome).inc()
        raise


# -- the screen ----------------------------------------------------------------------------------
async def start_pairing(request: Request) -> Response:
    st = state(request)
    client = request.client.host if request.client else "-"
    rate = RateCheck("pairing", STARTS)
    request.scope[RATE] = rate
    await _limited(st, "start_limited", st.screens.limit_client(client, rate))
    pairing = await st.screens.start_pairing()
    st.metrics.pairings.labels("started").inc()
    complete = verification_uri(request, pairing.code)
    body = {
        "device_code": pairing.device_code,
        "user_code": pairing.code,
        "user_code_display": screens.grouped(pairing.code),
        "verification_uri": verification_uri(request),
        "verification_uri_complete": complete,
        "qr": qr_code(complete),
        "expires_in": pairing.expires_in,
        "interval": screens.POLL_SECONDS,
    }
    return JSONResponse(body, status_code=201, headers=NO_STORE)


async def poll_pairing(request: Request) -> Response:
    st = state(request)
    data, _ = await read_json(request)
    device = data.get("device_code") if isinstance(data, dict) else None
    if not isinstance(device, str) or not device:
        raise InvalidInput("device_code", "is required: the device_code of POST /v1/pairings")
    rate = RateCheck("poll", POLLS)
    request.scope[RATE] = rate
    await _limited(st, "poll_limited", st.screens.limit_polls(device, rate))
    poll = await st.screens.poll(device)
    if poll.token is None:
        body: dict[str, Any] = {
            "status": "pending",
            "expires_in": poll.expires_in,
            "interval": screens.POLL_SECONDS,
        }
        return JSONResponse(body, status_code=202, headers=NO_STORE)
    st.metrics.pairings.labels("paired").inc()
    body = {
        "status": "approved",
        "token": poll.token,
        "workspace_id": poll.workspace_id,
        "screen": poll.screen,
    }
    return JSONResponse(body, headers=NO_STORE)


# -- the owner -----------------------------------------------------------------------------------
async def approve_screen(request: Request) -> Response:
    ws = request.path_params["workspace_id"]
    await authorize(request, ws, "admin")
    st = state(request)
    # Every attempt counts (a right code too): a guesser learns nothing from which ones do.
    await _limited(
        st, "approve_limited", st.screens.limit_approvals(ws, RateCheck("pair", APPROVALS))
    )
    data, _ = await read_json(request)
    if not isinstance(data, dict):
        raise InvalidInput("", "must be a JSON object")
    code = screens.normalize_code(data.get("code"))
    grant = screens.grant({k: v for k, v in data.items() if k != "code"})
    try:
        screen = await st.screens.approve(ws, code, grant)
    except NotFound:
        st.metrics.pairings.labels("unknown_code").inc()
        raise
    st.metrics.pairings.labels("approved").inc()
    return JSONResponse({"screen": screen}, status_code=201)


async def list_screens(request: Request) -> Response:
    ws = request.path_params["workspace_id"]
    await authorize(request, ws, "admin")
    return JSONResponse({"screens": await state(request).screens.list(ws)})


async def revoke_screen(request: Request) -> Response:
    ws = request.path_params["workspace_id"]
    await authorize(request, ws, "admin")
    st = state(request)
    screen_id = request.path_params["screen_id"]
    result = await st.screens.revoke(screen_id, ws)
    st.auth.forget(screen_id)  # this process's connections close at their next check (1 s)
    return JSONResponse(result)


async def me(request: Request) -> Response:
    """What the caller's credential is, whichever workspace it belongs to: an owner with only an
    admin key learns the workspace from it, and a screen whether its token still works."""
    st = state(request)
    principal = await st.auth.authenticate(bearer(request.headers.get("authorization")))
    request.scope[KEY_ID] = principal.key_id
    await check_rate(request, principal.workspace_id, principal)
    body = principal.to_json()
    if principal.is_screen:
        body["screen"] = await st.screens.screen(principal.workspace_id, principal.key_id)
    return JSONResponse(body, headers=NO_STORE)


routes = [
    Route("/v1/pairings", start_pairing, methods=["POST"], name="start_pairing"),
    Route("/v1/pairings/poll", poll_pairing, methods=["POST"], name="poll_pairing"),
    Route(f"{WORKSPACE}/screens", approve_screen, methods=["POST"], name="approve_screen"),
    Route(f"{WORKSPACE}/screens", list_screens, methods=["GET"], name="list_screens"),
    Route(
        f"{WORKSPACE}/screens/{{screen_id}}",
        revoke_screen,
        methods=["DELETE"],
        name="revoke_screen",
    ),
    Route("/v1/me", me, methods=["GET"], name="me"),
]
