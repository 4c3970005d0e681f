"""Process-wide tuning applied at server startup."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from orderlog.ops.runtime import tune_gc


@pytest.fixture
def restore_gc() -> Iterator[None]:
    before = gc.get_threshold()
    yield
    gc.set_threshold(*before)
    gc.unfreeze()


@pytest.mark.usefixtures("restore_gc")
def test_tune_gc_raises_young_threshold_and_freezes_startup_heap() -> None:
    """The young generation threshold is the one asked for; what lived before is frozen."""
    _, gen1, gen2 = gc.get_threshold()
    tune_gc(50_000)
    assert gc.get_threshold() == (50_000, gen1, gen2)
    assert gc.get_freeze_count() > 0


@pytest.mark.usefixtures("restore_gc")
def test_tune_gc_zero_keeps_defaults() -> None:
    """0 leaves the collector as Python set it."""
    before = gc.get_threshold()
    tune_gc(0)
    assert gc.get_threshold() == before
