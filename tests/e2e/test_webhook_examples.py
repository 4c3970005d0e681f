"""The README's signature checks, in Python and in JavaScript (Node), run as written against a
real delivery: they accept it, and refuse another secret, a changed body and an old request."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import shutil
import time
from pathlib import Path
from typing import Any

import playwright
import pytest

from orderlog.settings import Settings
from support import hooks
from support.live import create, http
from support.receivers import Received, SignedReceiver
from support.server import Workspace, running_server

README = Path(__file__).resolve().parents[2] / "README.md"


def example(language: str) -> str:
    """The code block after ``<!-- verify-<language> -->`` in the README."""
    found = re.search(
        rf"<!-- verify-{language} -->\n```\w+\n(.*?)```", README.read_text(), re.DOTALL
    )
    assert found, f"README has no verify-{language} example"
    return found.group(1)


def node() -> str:
    """Node on PATH, else the one Playwright's driver ships with (a test dependency)."""
    found = shutil.which("node")
    bundled = Path(playwright.__file__).parent / "driver" / "node"
    if found:
        return found
    if bundled.exists():
        return str(bundled)
    if os.environ.get("ORDERLOG_REQUIRE_ALL") == "1":
        pytest.fail("no node to run the README's JavaScript example")
    pytest.skip("no node")


@pytest.fixture
async def delivery(settings: Settings, workspace: Workspace) -> tuple[str, Received]:
    """A real signed delivery as the receiver got it, and the secret that signed it."""
    receiver = SignedReceiver()
    async with (
        running_server(receiver.app) as url,
        running_server(hooks.quick(settings)) as base,
        http(base) as client,
    ):
        hook = await hooks.add(client, workspace, url)
        receiver.secrets.append(hook["secret"])
        await create(client, workspace, 1)
        await receiver.wait_for(1)
    return hook["secret"], receiver.received[0]


def cases(secret: str, got: Received) -> list[tuple[str, dict[str, str], bytes, bool]]:
    other = "whsec_" + base64.b64encode(b"\x01" * 32).decode()
    old = dict(got.headers, **{"webhook-timestamp": str(int(time.time()) - 3600)})
    return [
        (secret, got.headers, got.body, True),
        (other, got.headers, got.body, False),
        (secret, got.headers, got.body.replace(b'"event"', b'"Event"'), False),
        (secret, old, got.body, False),
    ]


async def test_webhook_examples_python_verify(delivery: tuple[str, Received]) -> None:
    """The README's Python verify() accepts orderlog's delivery and refuses forgeries."""
    secret, got = delivery
    namespace: dict[str, Any] = {}
    exec(example("python"), namespace)  # the README's code, as written
    for key, headers, body, expected in cases(secret, got):
        assert namespace["verify"](key, headers, body) is expected


async def test_webhook_examples_javascript_verify(
    delivery: tuple[str, Received], tmp_path: Path
) -> None:
    """The README's JavaScript verify() (Node's crypto) does the same."""
    secret, got = delivery
    script = tmp_path / "verify.js"
    script.write_text(
        example("javascript")
        + "\nconst [secret, headers, body] = process.argv.slice(2);\n"
        + "console.log(verify(secret, JSON.parse(headers), Buffer.from(body, 'base64')));\n"
    )
    for key, headers, body, expected in cases(secret, got):
        proc = await asyncio.create_subprocess_exec(
            node(),
            str(script),
            key,
            json.dumps(headers),
            base64.b64encode(body).decode(),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), 30)
        assert proc.returncode == 0, err.decode()
        assert out.decode().strip() == ("true" if expected else "false")
