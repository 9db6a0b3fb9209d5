"""The history's worker processes, in a module light enough to import first.

`casper generate` starts its helpers (spawned interpreters) before it imports the generator
itself: each helper imports casper.generator.history while this process imports, reads the
plan and builds its kitchens, so both are ready at about the same time. A helper learns the
plan from its first task and keeps the kitchens it builds for the tasks after it.
"""

from __future__ import annotations

import importlib
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor

from casper.collector import skip_final_collections

MAX_DEFAULT_WORKERS = 4  # each worker process holds ~0.3 GB; more gain little on this size


# glibc mallopt parameters
_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD = -1, -2, -3


def keep_freed_memory() -> bool:
    """Ask glibc's malloc to keep freed memory for reuse (up to 256 MB at the top of the heap,
    blocks under 64 MB from the heap) instead of handing it back to the kernel at once: each
    batch of days allocates and frees tens of megabytes, and taking fresh pages from the kernel
    every time cost a third of generate's system time (200K page faults, measured). For
    processes that end after generating: the generator's workers and `casper generate`.
    Returns whether it applied (glibc only)."""
    import ctypes
    import platform

    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    settings = (
        (_M_MMAP_THRESHOLD, 64 << 20),
        (_M_TRIM_THRESHOLD, 256 << 20),
        (_M_TOP_PAD, 32 << 20),
    )
    return all(libc.mallopt(option, value) == 1 for option, value in settings)


def default_workers() -> int:
    """The cores this process may run on, at most MAX_DEFAULT_WORKERS."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, MAX_DEFAULT_WORKERS))


_started: list[tuple[int, ProcessPoolExecutor]] = []  # (helpers, their pool)


def _pool(helpers: int) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(
        max_workers=helpers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_helper_start,
    )


def _helper_start() -> None:
    """A helper's start: the generator's imports happen now, not with its first task; and its
    exit skips the interpreter's last garbage collections, which the parent would otherwise wait
    for (casper.collector)."""
    skip_final_collections()
    importlib.import_module("casper.generator.history")


def start_helpers(helpers: int) -> None:
    """Start `helpers` worker processes now, for the next generate_history to take."""
    stop_helpers()
    if helpers < 1:
        return
    pool = _pool(helpers)
    for _ in range(helpers):
        pool.submit(int)  # a process is spawned per task submitted while none is idle
    _started.append((helpers, pool))


def take_helpers(helpers: int) -> ProcessPoolExecutor:
    """The started helpers if there are as many, else new ones (the caller shuts them down)."""
    if _started and _started[0][0] == helpers:
        return _started.pop()[1]
    stop_helpers()
    return _pool(helpers)


def stop_helpers() -> None:
    """Shut down helpers started and never taken."""
    while _started:
        _started.pop()[1].shutdown(cancel_futures=True)
