"""Event frames, cursors and stream bounds: pure functions, no Redis."""

from __future__ import annotations

import orjson
import pytest

from orderlog.errors import InvalidInput
from orderlog.http.live import ws_frames
from orderlog.store.events import Bounds, Cursor, from_message, previous_of, status_frame

REST = b'"event":"order.status_changed","previous_status":"preparing","order":{"id":"x","v":2}}'


def test_events_frame_is_built_from_the_wake_up_without_parsing() -> None:
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


def test_events_cursor_parses_and_compares_numerically() -> None:
    """Cursors round-trip; ids compare as numbers (9-0 < 10-0), junk is a 422."""
    assert Cursor.parse("ab:9-0").id < Cursor.parse("ab:10-0").id
    assert str(Cursor.parse("ab:1700000000000-12")) == "ab:1700000000000-12"
    for bad in ("", "ab", "ab:1", "AB:1-0", "ab:1-0-0", "ab:x-1"):
        with pytest.raises(InvalidInput):
            Cursor.parse(bad)


@pytest.mark.parametrize(
    ("bounds", "cursor", "problem"),
    [
        (Bounds(b"e", (5, 0), (9, 0)), "e:5-0", None),
        (Bounds(b"e", (5, 0), (9, 0)), "e:9-0", None),
        (Bounds(b"e", (5, 0), (9, 0)), "e:4-9", "expired"),  # trimmed
        (Bounds(b"e", (5, 0), (9, 0), intact=True), "e:0-0", None),  # never trimmed
        (Bounds(b"e", (5, 0), (9, 0)), "e:9-1", "unknown_cursor"),
        (Bounds(b"e", (5, 0), (9, 0)), "f:6-0", "epoch"),
        (Bounds(None, None, (0, 0), intact=True), "e:0-0", "epoch"),  # the data was lost
        (Bounds(b"e", None, (0, 0), intact=True), "e:0-0", None),  # empty, new
    ],
)
def test_events_bounds_decide_what_can_be_resumed(
    bounds: Bounds, cursor: str, problem: str | None
) -> None:
    """Same epoch, not beyond the end, nothing after the cursor trimmed; otherwise a reason."""
    assert bounds.problem(Cursor.parse(cursor)) == problem


def test_events_ws_frames_batch_consecutive_events() -> None:
    """One frame goes as is; runs of events become one batch; status frames stay apart."""
    a = from_message(b"1-0\ns\ne\n" + REST)
    b = from_message(b"2-0\ns\ne\n" + REST)
    st = status_frame("live")
    assert ws_frames([a]) == [a.data]
    assert ws_frames([st]) == [st.data]
    (batch,) = ws_frames([a, b])
    assert [e["cursor"] for e in orjson.loads(batch)["events"]] == ["e:1-0", "e:2-0"]
    assert ws_frames([a, st, b]) == [a.data, st.data, b.data]
