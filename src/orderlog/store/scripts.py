"""The Lua scripts beside this file, rendered once and run by SHA with a fallback to EVAL.

Each script is ``common.lua`` + its own file; ``{{SUFFIX_*}}`` markers are filled from
``keys.INDEX_SUFFIXES`` and ``{{ARGV_*}}``/``{{OPW}}`` from ``argv``, so index key names and
write.lua's argument positions are each spelled in one place only.
"""

from __future__ import annotations

import hashlib
import re
from functools import cache
from importlib import resources
from typing import Any

from redis.exceptions import NoScriptError

from orderlog.keys import INDEX_SUFFIXES
from orderlog.store import argv


@cache
def source(name: str) -> str:
    folder = resources.files(__package__)
    text = folder.joinpath("common.lua").read_text() + "\n" + folder.joinpath(name).read_text()
    markers = {"{{SUFFIX_" + index + "}}": suffix for index, suffix in INDEX_SUFFIXES.items()}
    markers |= {
        "{{OPW}}": str(argv.OPW),
        "{{ARGV_HEAD}}": argv.lua_positions(argv.HEAD, base=1),
        "{{ARGV_FIRST_OP}}": str(len(argv.HEAD) + 1),
        "{{ARGV_CREATE}}": argv.lua_positions(argv.CREATE),
        "{{ARGV_CHANGE}}": argv.lua_positions(argv.CHANGE),
        "{{ARGV_OPEN}}": argv.lua_positions(argv.OPEN),
        "{{ARGV_PRIORITY}}": argv.lua_positions(argv.PRIORITY),
        "{{ARGV_ITEM}}": argv.lua_positions(argv.ITEM),
    }
    for marker, value in markers.items():
        text = text.replace(marker, value)
    left = re.search(r"\{\{\w+\}\}", text)
    if left:
        raise RuntimeError(f"{name}: the marker {left.group()} has no value (store/scripts.py)")
    return text


class Script:
    """A script run with EVALSHA, loaded on demand with EVAL (works on a cluster node too:
    EVAL caches the script on the node that runs it)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.source = source(name)
        self.sha = hashlib.sha1(self.source.encode()).hexdigest()

    async def __call__(self, redis: Any, keys: list[str], args: list[Any]) -> Any:
        try:
            return await redis.evalsha(self.sha, len(keys), *keys, *args)
        except NoScriptError:
            return await redis.eval(self.source, len(keys), *keys, *args)


WRITE = Script("write.lua")
READ = Script("read.lua")
RATE_LIMIT = Script("ratelimit.lua")
SNAPSHOT = Script("snapshot.lua")
SEARCH = Script("search.lua")
RETENTION = Script("retention.lua")
PAGE = Script("page.lua")
WEBHOOK_CREATE = Script("webhook_create.lua")
WEBHOOK_DELETE = Script("webhook_delete.lua")
WEBHOOK_SETTLE = Script("webhook_settle.lua")
WEBHOOK_LEASE = Script("webhook_lease.lua")
WEBHOOK_RETRY = Script("webhook_retry.lua")
WEBHOOK_HEALTH = Script("webhook_health.lua")
WEBHOOK_GROUP = Script("webhook_group.lua")
WORKFLOW = Script("workflow.lua")
PAIR_APPROVE = Script("pair_approve.lua")
SCREEN_TOKEN = Script("screen_token.lua")
SCREEN_SEEN = Script("screen_seen.lua")
