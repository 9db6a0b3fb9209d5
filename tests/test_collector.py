"""casper.collector: full garbage collections deferred while heavy phases run."""

from __future__ import annotations

import gc
import threading

import pytest

from casper.collector import (
    NO_AUTOMATIC_FULL_COLLECTION,
    defer_full_collections,
    full_collections_deferred,
    resume_full_collections,
)


@pytest.fixture
def thresholds():
    """The collector's thresholds before the test, restored after it whatever it did."""
    before = gc.get_threshold()
    yield before
    gc.set_threshold(*before)


def _collections_while_making_long_lived_objects() -> list[int]:
    """The generations collected by themselves while as many objects as are alive now are made
    and kept: enough to start a full collection (CPython starts one once the objects that
    reached the oldest generation since the last grow by a quarter)."""
    observed: list[int] = []

    def on_collection(phase: str, info: dict) -> None:
        if phase == "stop":
            observed.append(info["generation"])

    gc.callbacks.append(on_collection)
    try:
        kept = [[] for _ in range(2 * len(gc.get_objects()))]
    finally:
        gc.callbacks.remove(on_collection)
    del kept
    return observed


def test_no_full_collection_starts_by_itself_while_deferred(thresholds):
    assert 2 in _collections_while_making_long_lived_objects()  # the premise, not deferred
    with full_collections_deferred():
        assert gc.get_threshold() == (*thresholds[:2], NO_AUTOMATIC_FULL_COLLECTION)
        observed = _collections_while_making_long_lived_objects()
    assert 0 in observed and 1 in observed and 2 not in observed
    assert gc.get_threshold() == thresholds


def test_deferrals_nest_across_threads_and_the_last_to_end_restores_the_threshold(thresholds):
    """The demo's pipeline ticks run beside the review app: a tick ending while the app runs
    leaves full collections deferred for the app, and the app's end restores them."""
    defer_full_collections()  # the app, mounted first
    tick_started, tick_may_end = threading.Event(), threading.Event()

    def tick() -> None:
        with full_collections_deferred():
            tick_started.set()
            tick_may_end.wait(5)

    worker = threading.Thread(target=tick)
    worker.start()
    assert tick_started.wait(5)
    tick_may_end.set()
    worker.join(5)
    assert gc.get_threshold()[2] == NO_AUTOMATIC_FULL_COLLECTION  # the app still defers
    resume_full_collections()
    assert gc.get_threshold() == thresholds


def test_a_deferred_block_that_fails_still_restores_the_threshold(thresholds):
    with pytest.raises(RuntimeError, match="broke"), full_collections_deferred():
        raise RuntimeError("the block broke")
    assert gc.get_threshold() == thresholds


def test_resuming_what_was_never_deferred_is_refused(thresholds):
    with pytest.raises(RuntimeError, match="without a deferral"):
        resume_full_collections()
    assert gc.get_threshold() == thresholds
