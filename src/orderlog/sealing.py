"""Secrets at rest: what orderlog must keep but must be able to read back (a webhook's signing
secret, a Discord webhook URL, which holds its token) is sealed with the server key before it
reaches Redis.

Sealing is AES-256-GCM (``cryptography``'s AESGCM): authenticated, so a sealed value that was
tampered with or copied onto another record does not open. Each value is bound to where it
belongs (its ``context``, e.g. ``"<workspace>/<webhook>/secret"``, the associated data), and
carries the id of the key that sealed it, so a server with another key says so instead of
failing obscurely::

    v1.<key id: 8 hex>.<url-safe base64 of 12-byte nonce + ciphertext + tag>

The server key is 32 random bytes: ``ORDERLOG_SECRET_KEY`` (url-safe base64), else the file
``<data dir>/secret.key``, created with mode 0600 on first use. Every server of one Redis must
hold the same key (several hosts: set ``ORDERLOG_SECRET_KEY`` on each).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import os
import secrets
from collections.abc import Callable
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from orderlog.errors import ServerKeyUnavailable
from orderlog.settings import Settings

KEY_BYTES = 32
KEY_FILE = "secret.key"
VERSION = "v1"


def new_key() -> str:
    """A fresh server key, as ``ORDERLOG_SECRET_KEY`` takes it."""
    return base64.urlsafe_b64encode(secrets.token_bytes(KEY_BYTES)).decode()


def decode_key(text: str) -> bytes:
    """Raises ValueError unless ``text`` is url-safe base64 of 32 bytes."""
    raw = text.strip()
    try:
        key = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
    except (binascii.Error, ValueError):
        raise ValueError("the server key is not url-safe base64") from None
    if len(key) != KEY_BYTES:
        raise ValueError(f"the server key must be {KEY_BYTES} bytes, not {len(key)}")
    return key


def key_id(key: bytes) -> str:
    """A short public name of a key (an HMAC of a constant: says nothing about the key)."""
    return hmac.new(key, b"orderlog server key id", hashlib.sha256).hexdigest()[:8]


def load_key(configured: str | None, data_dir: Path) -> bytes:
    """The server key: ``configured`` (ORDERLOG_SECRET_KEY) if given, else the data directory's
    key file, created (0600, atomically: concurrent workers end up with the same key) if absent.

    Raises:
        ServerKeyUnavailable: the configured key is malformed, or the file cannot be read or
            created.
    """
    if configured:
        try:
            return decode_key(configured)
        except ValueError as exc:
            raise ServerKeyUnavailable(f"ORDERLOG_SECRET_KEY: {exc}.") from None
    path = data_dir / KEY_FILE
    try:
        if not path.exists():
            _create(path)
        return decode_key(path.read_text())
    except OSError as exc:
        raise ServerKeyUnavailable(
            f"Cannot read or create the server key {path} ({exc.strerror or exc}); "
            "set ORDERLOG_SECRET_KEY."
        ) from None
    except ValueError as exc:
        raise ServerKeyUnavailable(f"{path}: {exc}.") from None


def _create(path: Path) -> None:
    """Write a new key to a private temporary file, then link it into place: ``link`` fails if
    another process got there first, and then its key is the one kept."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as out:
            out.write(new_key() + "\n")
            out.flush()
            os.fsync(out.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


class Sealer:
    """Seals and opens values with the server key, loaded on first use (a server that never
    keeps a secret never creates a key file)."""

    def __init__(self, key: bytes | Callable[[], bytes]) -> None:
        self._load: Callable[[], bytes] = (lambda: key) if isinstance(key, bytes) else key
        self._aead: AESGCM | None = None
        self._id = ""

    def _cipher(self) -> tuple[AESGCM, str]:
        if self._aead is None:
            key = self._load()
            self._aead, self._id = AESGCM(key), key_id(key)
        return self._aead, self._id

    @property
    def key_id(self) -> str:
        return self._cipher()[1]

    def seal(self, plain: str, context: str) -> str:
        aead, kid = self._cipher()
        nonce = secrets.token_bytes(12)
        sealed = nonce + aead.encrypt(nonce, plain.encode(), context.encode())
        return f"{VERSION}.{kid}.{base64.urlsafe_b64encode(sealed).decode()}"

    def open(self, sealed: str, context: str) -> str:
        """Raises ServerKeyUnavailable if another key sealed it, ValueError if it is damaged or
        belongs to another context."""
        aead, kid = self._cipher()
        version, _, rest = sealed.partition(".")
        sealed_by, _, body = rest.partition(".")
        if version != VERSION or not body:
            raise ValueError("not a sealed value")
        if sealed_by != kid:
            raise ServerKeyUnavailable(
                f"This value was sealed with server key {sealed_by}; this server has key {kid}. "
                "Give every server of this Redis the same ORDERLOG_SECRET_KEY."
            )
        raw = base64.urlsafe_b64decode(body)
        try:
            return aead.decrypt(raw[:12], raw[12:], context.encode()).decode()
        except InvalidTag:
            raise ValueError("the sealed value is damaged or belongs elsewhere") from None


def server_sealer(settings: Settings) -> Sealer:
    """This server's sealer: its key is loaded (or created) on first use."""
    return Sealer(lambda: load_key(settings.secret_key, settings.data_dir))
