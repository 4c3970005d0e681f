"""Event frames, cursors and snapshots as a client receives them: pure functions, no Redis."""

from __future__ import annotations

import orjson
import pytest

from orderlog.errors import InvalidInput
from orderlog.http.live import ws_frames
from orderlog.live.frames import (
    Cursor,
    Snapshot,
    from_entries,
    from_message,
    previous_of,
    status_frame,
)
from orderlog.store.events import Bounds, Entry

REST = b'"event":"order.status_changed","previous_status":"preparing","order":{"id":"x","v":2}}'


def test_frames_event_is_built_from_the_wake_up_without_parsing() -> None:
    """A pub/sub wake-up becomes a valid event frame with its cursor, status and previous."""
    frame = from_message(b"1700000000000-3\nwaiting_for_pickup\nab12\n" + REST)
    assert frame.id == (1700000000000, 3)
    assert frame.cursor == b"ab12:1700000000000-3"
    assert frame.status == b"waiting_for_pickup"
    assert frame.previous == b"preparing"
    assert orjson.loads(frame.data) == {
        "type": "event",
        "cursor": "ab12:1700000000000-3",
        "event": "order.status_changed",
        "previous_status": "preparing",
        "order": {"id": "x", "v": 2},
    }
    assert previous_of(b'"event":"order.created","previous_status":null,"order":{}}') is None


def test_frames_stream_entries_make_the_same_frames_as_wake_ups() -> None:
    """A page of stream entries gives, in the stream's epoch, the frames the wake-ups give."""
    bounds = Bounds(b"ab12", (1, 0), (2, 5))
    entries = [Entry(b"1-0", b"preparing", REST), Entry(b"2-5", b"ready", REST)]
    assert from_entries(entries, bounds) == [
        from_message(b"1-0\npreparing\nab12\n" + REST),
        from_message(b"2-5\nready\nab12\n" + REST),
    ]
    assert from_entries([], bounds) == []


def test_frames_cursor_parses_and_compares_numerically() -> None:
    """Cursors round-trip; ids compare as numbers (9-0 < 10-0), junk is a 422."""
    assert Cursor.parse("ab:9-0").id < Cursor.parse("ab:10-0").id
    assert Cursor.parse("ab:1700000000000-12").encode() == b"ab:1700000000000-12"
    for bad in ("", "ab", "ab:1", "AB:1-0", "ab:1-0-0", "ab:x-1"):
        with pytest.raises(InvalidInput):
            Cursor.parse(bad)


def test_frames_snapshot_frame_carries_the_orders_and_the_cursor_after_them() -> None:
    """A snapshot's cursor is the stream's last entry when it was read; its frame says so."""
    snap = Snapshot(Bounds(b"ab12", (1, 0), (7, 2)), [b'{"n":1}', b'{"n":2}'])
    assert snap.cursor == b"ab12:7-2"
    frame = snap.frame()
    assert frame.cursor == snap.cursor
    assert frame.id is None
    assert orjson.loads(frame.data) == {
        "type": "snapshot",
        "cursor": "ab12:7-2",
        "orders": [{"n": 1}, {"n": 2}],
    }
    assert Cursor.parse(snap.cursor.decode()) == Cursor(b"ab12", (7, 2))


def test_frames_ws_frames_batch_consecutive_events() -> None:
    """One frame goes as is; runs of events become one batch; status frames stay apart."""
    a = from_message(b"1-0\ns\ne\n" + REST)
    b = from_message(b"2-0\ns\ne\n" + REST)
    st = status_frame("live")
    assert ws_frames([a]) == [a.data]
    assert ws_frames([st]) == [st.data]
    (batch,) = ws_frames([a, b])
    assert [e["cursor"] for e in orjson.loads(batch)["events"]] == ["e:1-0", "e:2-0"]
    assert ws_frames([a, st, b]) == [a.data, st.data, b.data]
