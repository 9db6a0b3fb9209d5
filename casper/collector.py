"""The garbage collector around a `casper` process's heavy phases, and at its end.

A full collection walks every object alive, most of them the libraries' own (SQLMesh, pandas,
sqlglot, polars...), and holds the GIL while it does: a first pipeline build ran six of them,
0.65 s in all, and the review app's, inside a key press, took it over 100 ms. While some part of
the process defers them (`full_collections_deferred`, or `defer_full_collections` until
`resume_full_collections`) none starts by itself; the younger generations, where most garbage
dies, are collected as usual. Deferrals nest across threads (the demo runs pipeline ticks beside
the review app): the collector's own threshold is restored when the last one ends.

At exit the interpreter's last collections walk everything once more: about 0.5 s after a first
pipeline build. Freezing it first skips that walk (`skip_final_collections`).
Light on purpose: the generator's helper processes import it before anything else.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import threading
from collections.abc import Iterator

#: the oldest generation's threshold while full collections are deferred: never reached
NO_AUTOMATIC_FULL_COLLECTION = 2**30

_lock = threading.Lock()
_deferrals = 0
_threshold_to_restore: int | None = None


def skip_final_collections() -> None:
    """Freeze everything alive as the process exits: registered first, the handler runs last."""
    atexit.register(gc.freeze)


def defer_full_collections() -> None:
    """From now on no full collection starts by itself, until `resume_full_collections`."""
    global _deferrals, _threshold_to_restore
    with _lock:
        if _deferrals == 0:
            young, middle, _threshold_to_restore = gc.get_threshold()
            gc.set_threshold(young, middle, NO_AUTOMATIC_FULL_COLLECTION)
        _deferrals += 1


def resume_full_collections() -> None:
    """Ends one deferral; the last to end restores the collector's own threshold."""
    global _deferrals, _threshold_to_restore
    with _lock:
        if _deferrals == 0:
            raise RuntimeError("resume_full_collections without a deferral")
        _deferrals -= 1
        if _deferrals == 0 and _threshold_to_restore is not None:
            young, middle, _ = gc.get_threshold()
            gc.set_threshold(young, middle, _threshold_to_restore)
            _threshold_to_restore = None


@contextlib.contextmanager
def full_collections_deferred() -> Iterator[None]:
    """No full collection starts by itself inside the block (see the module docstring)."""
    defer_full_collections()
    try:
        yield
    finally:
        resume_full_collections()
