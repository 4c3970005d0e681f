"""Sealing secrets at rest with the server key: what opens, what does not, and where the key
comes from."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from orderlog.errors import ServerKeyUnavailable
from orderlog.sealing import KEY_FILE, Sealer, decode_key, key_id, load_key, new_key


def test_sealing_round_trip_bound_to_its_context() -> None:
    """A sealed value opens with the same key and context only; a changed byte does not."""
    sealer = Sealer(decode_key(new_key()))
    sealed = sealer.seal("whsec_abc", "w1/wh_1/secret")
    assert "whsec_abc" not in sealed
    assert sealed.startswith(f"v1.{sealer.key_id}.")
    assert sealer.seal("whsec_abc", "w1/wh_1/secret") != sealed  # a fresh nonce each time
    assert sealer.open(sealed, "w1/wh_1/secret") == "whsec_abc"
    with pytest.raises(ValueError, match="belongs elsewhere"):
        sealer.open(sealed, "w1/wh_2/secret")
    damaged = sealed[:-4] + ("AAAA" if not sealed.endswith("AAAA") else "BBBB")
    with pytest.raises(ValueError, match="damaged"):
        sealer.open(damaged, "w1/wh_1/secret")


def test_sealing_other_key_says_which() -> None:
    """A value sealed by another server key names both key ids (never the keys)."""
    mine, theirs = decode_key(new_key()), decode_key(new_key())
    sealed = Sealer(theirs).seal("x", "c")
    with pytest.raises(ServerKeyUnavailable) as caught:
        Sealer(mine).open(sealed, "c")
    assert key_id(theirs) in caught.value.message
    assert key_id(mine) in caught.value.message
    assert caught.value.status_code == 503


def test_sealing_key_from_environment_or_created_once_0600(tmp_path: Path) -> None:
    """ORDERLOG_SECRET_KEY wins; without it the data directory's key file is created with mode
    0600 on first use and read back after; eight threads creating it at once agree."""
    given = new_key()
    assert load_key(given, tmp_path / "unused") == decode_key(given)
    assert not (tmp_path / "unused").exists()
    keys: list[bytes] = []
    threads = [
        threading.Thread(target=lambda: keys.append(load_key(None, tmp_path / "data")))
        for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    path = tmp_path / "data" / KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(set(keys)) == 1
    assert load_key(None, tmp_path / "data") == keys[0]
    assert sorted(p.name for p in path.parent.iterdir()) == [KEY_FILE]  # no temporary left


def test_sealing_bad_or_unavailable_key_is_a_clear_error(tmp_path: Path) -> None:
    """A malformed key, or a data directory where no key can be written, is a 503 saying what
    to do, not a crash."""
    with pytest.raises(ServerKeyUnavailable, match="32 bytes"):
        load_key("c2hvcnQ", tmp_path)
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.access(locked, os.W_OK):  # root ignores the mode: make the path a file instead
            locked.chmod(0o700)
            locked.rmdir()
            locked.write_text("not a directory")
        with pytest.raises(ServerKeyUnavailable, match="set ORDERLOG_SECRET_KEY"):
            load_key(None, locked)
    finally:
        if locked.is_dir():
            locked.chmod(0o700)
