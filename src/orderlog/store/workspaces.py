"""Workspaces, their API keys, workflows and live-connection tickets, in Redis."""

from __future__ import annotations

import secrets
import time
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import orjson

from orderlog.auth import SCOPES, SCREEN_SCOPES, Principal, digest, new_key, new_ticket, ticket_tag
from orderlog.domain import workspace
from orderlog.domain.model import DEFAULT_WORKFLOW, Workflow, parse_workflow
from orderlog.errors import InvalidInput, NotFound
from orderlog.keys import Keys
from orderlog.store.client import RedisClient, text, unavailable

TICKET_TTL_MS = 60_000
# A field of the meta hash: the workspace `serve` made on its first run (or `orderlog demo` made
# when there was none), which `orderlog demo` fills. Found by this mark, never by its name.
DEMO_MARK = "demo"


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class WorkspaceStore:
    def __init__(
        self, redis: RedisClient, keys: Keys | None = None, workflow_cache_seconds: float = 1.0
    ) -> None:
        self.redis = redis
        self.keys = keys or Keys()
        self.workflow_cache_seconds = workflow_cache_seconds
        self._workflows: dict[str, tuple[float, Workflow]] = {}

    # -- workspaces ------------------------------------------------------------------------------
    async def create_workspace(
        self, name: str, *, demo: bool = False
    ) -> tuple[str, dict[str, str]]:
        """A new workspace with one key of each scope: (workspace id, {scope: raw key}).

        Args:
            demo: mark it as the demo workspace (the one ``demo_workspace`` finds).
        """
        name = name.strip()
        if not name or len(name) > 100:
            raise InvalidInput("name", "must be 1 to 100 characters")
        workspace_id = secrets.token_hex(8)
        with unavailable():
            await self.redis.hset(
                self.keys.meta(workspace_id),
                mapping={"name": name, "created_at": now_iso()},
                items=[DEMO_MARK, "1"] if demo else None,
            )
            await self.redis.sadd(self.keys.workspaces, workspace_id)
        created = {}
        for scope in ("write", "read", "admin"):
            _, raw = await self.create_key(workspace_id, scope, f"first {scope} key")
            created[scope] = raw
        return workspace_id, created

    async def any_workspace(self) -> bool:
        """False on an empty store (a first run)."""
        with unavailable():
            return bool(await self.redis.exists(self.keys.workspaces))

    async def demo_workspace(self) -> str | None:
        """The id of the demo workspace (the oldest, should there be several), or None."""
        marked: list[tuple[str, str]] = []
        with unavailable():
            for member in await self.redis.smembers(self.keys.workspaces):
                ws = text(member)
                mark, created = await self.redis.hmget(
                    self.keys.meta(ws), [DEMO_MARK, "created_at"]
                )
                if mark:
                    marked.append((text(created or b""), ws))
        return min(marked)[1] if marked else None

    async def list_workspaces(self) -> list[dict[str, Any]]:
        with unavailable():
            ids = sorted(text(m) for m in await self.redis.smembers(self.keys.workspaces))
        return [await self.workspace(w) for w in ids]

    async def workspace(self, workspace_id: str) -> dict[str, Any]:
        with unavailable():
            meta = await self.redis.hgetall(self.keys.meta(workspace_id))
        if not meta:
            raise NotFound("Workspace", workspace_id)
        fields = {text(k): text(v) for k, v in meta.items()}
        return {
            "id": workspace_id,
            "name": fields.get("name", ""),
            "created_at": fields.get("created_at"),
            "settings": workspace.read(fields),
        }

    async def update_settings(self, workspace_id: str, data: Any) -> dict[str, Any]:
        """Apply a ``PATCH /settings`` body (validated against the current settings)."""
        current = await self.workspace(workspace_id)
        changed = workspace.changes(current["settings"], data)
        if changed:
            with unavailable():
                await self.redis.hset(
                    self.keys.meta(workspace_id), mapping={k: str(v) for k, v in changed.items()}
                )
        return await self.workspace(workspace_id)

    # -- keys ------------------------------------------------------------------------------------
    async def create_key(self, workspace_id: str, scope: str, label: str = "") -> tuple[str, str]:
        if scope not in SCOPES:
            raise InvalidInput("scope", f"must be one of {', '.join(SCOPES)}")
        if len(label) > 100:
            raise InvalidInput("label", "must be at most 100 characters")
        await self.workspace(workspace_id)
        key_id, raw = new_key(self.keys.slot_tag(workspace_id))
        with unavailable():
            await self.redis.hset(
                self.keys.api_key(key_id),
                mapping={
                    "sha256": digest(raw),
                    "workspace": workspace_id,
                    "scope": scope,
                    "label": label,
                    "created_at": now_iso(),
                },
            )
            await self.redis.sadd(self.keys.workspace_keys(workspace_id), key_id)
        return key_id, raw

    async def key_record(self, key_id: str) -> dict[str, str] | None:
        with unavailable():
            raw = await self.redis.hgetall(self.keys.api_key(key_id))
        return {text(k): text(v) for k, v in raw.items()} or None

    async def list_keys(self, workspace_id: str) -> list[dict[str, Any]]:
        await self.workspace(workspace_id)
        with unavailable():
            ids = sorted(
                text(m) for m in await self.redis.smembers(self.keys.workspace_keys(workspace_id))
            )
        out = []
        for key_id in ids:
            record = await self.key_record(key_id)
            if record:
                out.append(
                    {
                        "key_id": key_id,
                        "scope": record["scope"],
                        "label": record.get("label", ""),
                        "created_at": record.get("created_at"),
                        "revoked_at": record.get("revoked_at") or None,
                    }
                )
        return out

    async def revoke_key(self, key_id: str) -> dict[str, Any]:
        record = await self.key_record(key_id)
        if record is None or record["scope"] in SCREEN_SCOPES:  # screens: store/screens.py
            raise NotFound("Key", key_id)
        if not record.get("revoked_at"):
            with unavailable():
                await self.redis.hset(self.keys.api_key(key_id), "revoked_at", now_iso())
        return {"key_id": key_id, "workspace_id": record["workspace"], "revoked": True}

    # -- workflow --------------------------------------------------------------------------------
    async def workflow(self, workspace_id: str, *, fresh: bool = False) -> Workflow:
        """The workspace's workflow with its version, cached for a second (``fresh``: read now).
        A write checked against a cached one that has changed since is refused by the store
        (``WorkflowChanged``): the caller reads it fresh and checks again."""
        now = time.monotonic()
        hit = self._workflows.get(workspace_id)
        if not fresh and hit is not None and hit[0] > now:
            return hit[1]
        k = self.keys
        with unavailable():
            raw, version = await self.redis.mget(
                k.workflow(workspace_id), k.workflow_version(workspace_id)
            )
        workflow = parse_workflow(orjson.loads(raw)) if raw else DEFAULT_WORKFLOW
        workflow = replace(workflow, version=int(version or 0))
        self._workflows[workspace_id] = (now + self.workflow_cache_seconds, workflow)
        return workflow

    def forget_workflow(self, workspace_id: str) -> None:
        """Drop the cached workflow (this process changed it)."""
        self._workflows.pop(workspace_id, None)

    # -- tickets ---------------------------------------------------------------------------------
    async def issue_ticket(self, principal: Principal, ttl_ms: int = TICKET_TTL_MS) -> str:
        tag = principal.workspace_id
        ticket = new_ticket(tag)
        value = orjson.dumps(principal.to_json())
        with unavailable():
            await self.redis.set(
                self.keys.ticket(tag, digest(ticket)), value, px=min(ttl_ms, TICKET_TTL_MS)
            )
        return ticket

    async def redeem_ticket(self, ticket: str) -> Principal | None:
        tag = ticket_tag(ticket)
        if tag is None:
            return None
        with unavailable():
            # GETDEL: single use even when two connections race with the same ticket.
            raw = await self.redis.getdel(self.keys.ticket(tag, digest(ticket)))
        if raw is None:
            return None
        return Principal.from_json(orjson.loads(raw))
