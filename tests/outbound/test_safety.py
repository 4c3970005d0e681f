"""What a webhook may not do to the server or its network: reach internal addresses (refused
when created, and again at every connection), follow redirects, hang a delivery past the
timeout, or make the server read a huge answer. And the connection goes to the address that
was checked, with TLS verified against the host name (SNI), not re-resolved behind the check."""

from __future__ import annotations

import asyncio
import datetime
import ssl
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from orderlog.domain.webhooks import parse_url
from orderlog.outbound.client import BODY_CAP, Client, Slot
from orderlog.settings import Settings
from support import hooks
from support.api import assert_error
from support.live import create, http
from support.receivers import SignedReceiver
from support.server import Workspace, running_server

INTERNAL = [
    ("http://127.0.0.1:8080/hook", "loopback"),
    ("http://10.1.2.3/hook", "private"),
    ("http://192.168.0.10/hook", "private"),
    ("http://169.254.169.254/latest/meta-data/", "metadata"),
    ("http://[::1]:9000/", "loopback"),
    ("http://[::ffff:127.0.0.1]/", "loopback"),
    ("http://[fd00:ec2::254]/", "metadata"),
    ("http://100.64.1.1/", "non-public"),
    ("http://0.0.0.0:8000/", "unspecified"),
    ("http://[64:ff9b::a00:1]/", "private"),
]


@pytest.mark.parametrize(("url", "why"), INTERNAL)
async def test_safety_internal_address_refused_when_created(
    client: Any, workspace: Workspace, url: str, why: str
) -> None:
    """A webhook to a loopback, private, link-local, metadata or otherwise internal address is
    refused with a 422 naming the reason (ORDERLOG_WEBHOOK_ALLOW_PRIVATE is off)."""
    resp = await client.post(
        f"{workspace.base}/webhooks", headers=workspace.auth("admin"), json={"url": url}
    )
    body = assert_error(resp, 422)
    assert body["field"] == "url"
    assert why in body["message"]


async def test_safety_name_resolving_to_loopback_refused_at_delivery(
    settings: Settings, workspace: Workspace
) -> None:
    """A host name is checked at every connection: ``localhost`` (accepted when created, as any
    name) resolves to 127.0.0.1, so nothing is sent; the delivery log says why."""
    receiver = SignedReceiver()
    strict = hooks.quick(settings, webhook_allow_private=False)
    async with (
        running_server(receiver.app) as url,
        running_server(strict) as base,
        http(base) as client,
    ):
        port = url.rsplit(":", 1)[1]
        hook = await hooks.add(client, workspace, f"http://localhost:{port}/hook")
        receiver.secrets.append(hook["secret"])
        await create(client, workspace, 1)
        entry = await _first_attempt(client, workspace, hook["id"])
    assert entry["outcome"] == "retrying"
    assert entry["status_code"] is None
    assert entry["error"].startswith("refused: localhost resolves to ")
    assert "loopback address" in entry["error"]
    assert receiver.attempts == []


async def test_safety_redirect_not_followed(settings: Settings, workspace: Workspace) -> None:
    """A 302 is a failed attempt: the Location is never requested."""
    elsewhere = SignedReceiver()
    mover = SignedReceiver()
    async with (
        running_server(elsewhere.app) as elsewhere_url,
        running_server(mover.app) as url,
        running_server(hooks.quick(settings)) as base,
        http(base) as client,
    ):
        mover.plan.default = (302, {"Location": f"{elsewhere_url}/stolen"}, b"")
        hook = await hooks.add(client, workspace, url)
        mover.secrets.append(hook["secret"])
        await create(client, workspace, 1)
        entry = await _first_attempt(client, workspace, hook["id"])
    assert entry["status_code"] == 302
    assert entry["outcome"] == "retrying"
    assert elsewhere.attempts == []


async def test_safety_timeout_and_answer_cap(settings: Settings, workspace: Workspace) -> None:
    """A receiver slower than ORDERLOG_WEBHOOK_TIMEOUT (1 s here) fails the attempt ("timed
    out"); an error answer of 1 MB is read only up to the cap, and the log keeps 300
    characters of it."""
    slow = SignedReceiver()
    slow.delay = 3.0
    chatty = SignedReceiver()
    chatty.plan.default = (500, {}, b"x" * 1_000_000)
    quick = hooks.quick(settings, webhook_timeout=1.0)
    async with hooks.delivering(quick, workspace, slow, chatty) as (client, (s, c)):
        await create(client, workspace, 1)
        timed_out = await _first_attempt(client, workspace, s["id"])
        too_long = await _first_attempt(client, workspace, c["id"])
    assert timed_out["error"] == "timed out after 1 s"
    assert 1000 <= timed_out["latency_ms"] < 2500
    assert too_long["status_code"] == 500
    assert too_long["error"] == "HTTP 500: " + "x" * 300


async def _first_attempt(client: Any, ws: Workspace, webhook_id: str) -> dict[str, Any]:
    async with asyncio.timeout(15):
        while True:
            log = (await hooks.deliveries(client, ws, webhook_id))["deliveries"]
            if log:
                return log[-1]  # type: ignore[no-any-return]
            await asyncio.sleep(0.1)


# -- the client: pinned address, SNI, certificate check -----------------------------------------
def certificate(tmp: Path, name: str) -> tuple[Path, Path, Path]:
    """A CA and a certificate for ``name`` it signed: (CA file, certificate, key)."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "orderlog test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    paths = tmp / "ca.pem", tmp / "cert.pem", tmp / "key.pem"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths


async def test_safety_client_pins_the_checked_address_with_sni(tmp_path: Path) -> None:
    """https://hooks.test resolved (once per connection) to 127.0.0.1: the connection goes to
    that address, TLS sends SNI ``hooks.test`` and verifies the certificate against it, and
    ``Host`` names it; a certificate for another name fails; a name resolving to an internal
    address, or to a public and an internal one, is refused before any connection."""
    ca, cert, key = certificate(tmp_path, "hooks.test")
    seen: list[str] = []

    async def echo(request: Request) -> Response:
        seen.append(request.headers["host"])
        return Response(status_code=204)

    app = Starlette(routes=[Route("/in", echo, methods=["POST"])])
    lookups: list[str] = []

    async def resolve(host: str, port: int) -> list[str]:
        lookups.append(host)
        return {"hooks.test": ["127.0.0.1"], "wrong.test": ["127.0.0.1"]}.get(
            host, ["8.8.8.8", "10.0.0.7"]
        )

    trust = ssl.create_default_context(cafile=str(ca))
    async with running_server(app, ssl_certfile=str(cert), ssl_keyfile=str(key)) as url:
        port = int(url.rsplit(":", 1)[1])
        open_client = Client(allow_private=True, ssl_context=trust, resolve=resolve, timeout=5)
        slot = Slot()
        target = parse_url(f"https://hooks.test:{port}/in")
        first = await open_client.post(target, [], b"{}", slot)
        again = await open_client.post(target, [], b"{}", slot)  # the kept-alive connection
        wrong = await open_client.post(parse_url(f"https://wrong.test:{port}/in"), [], b"{}")
        strict = Client(allow_private=False, ssl_context=trust, resolve=resolve, timeout=5)
        internal = await strict.post(target, [], b"{}")
        mixed = await strict.post(parse_url(f"https://mixed.test:{port}/in"), [], b"{}")
        slot.close()
    assert first.status == 204, first.error
    assert first.address == "127.0.0.1"
    assert again.status == 204
    assert lookups[:2] == ["hooks.test", "wrong.test"]  # the second POST reused the connection
    assert seen == [f"hooks.test:{port}"] * 2  # (the certificate, valid for hooks.test only,
    # passed verification on a connection to 127.0.0.1: SNI and the check used the name)
    assert wrong.status is None
    assert wrong.error is not None
    assert wrong.error.startswith("TLS certificate not valid")
    assert internal.status is None
    assert internal.error == "refused: hooks.test resolves to 127.0.0.1 is a loopback address"
    assert mixed.error == "refused: mixed.test resolves to 10.0.0.7 is a private address"


async def test_safety_answer_read_up_to_the_cap(tmp_path: Path) -> None:
    """A 2xx with a 4 MB body counts as delivered; the client keeps BODY_CAP bytes of it and
    closes the connection rather than reading the rest."""

    async def big(request: Request) -> Response:
        return Response(b"y" * 4_000_000, status_code=200)

    app = Starlette(routes=[Route("/", big, methods=["POST"])])
    async with running_server(app) as url:
        client = Client(allow_private=True, timeout=5)
        slot = Slot()
        reply = await client.post(parse_url(url + "/"), [], b"{}", slot)
    assert reply.ok
    assert len(reply.body) == BODY_CAP
    assert slot.conn is None  # not kept: the rest of the answer was never read
