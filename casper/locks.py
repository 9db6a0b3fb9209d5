"""A lock file that one process at a time holds, that dies with that process, and that names it.

It is a POSIX record lock (fcntl.lockf), not flock: a flock lock belongs to the open file
description, which forked children share, and SQLMesh forks worker pools in the middle of a tick;
after a kill -9 of the holder its orphaned workers kept the lock, and every later run timed out. A
record lock belongs to the process that took it: a forked child never holds it, and the kernel
drops it when that process ends, however it ends.

Record locks are per process, not per descriptor, and closing any descriptor of the file drops
them. So threads of one process take turns on a threading.Lock before they touch the file, and
nothing else opens it. The holder writes its PID into the file, so a waiter can say who it waits
for.
"""

from __future__ import annotations

import contextlib
import errno
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

POLL_S = 0.1

_turns: dict[str, threading.Lock] = {}
_turns_guard = threading.Lock()


class LockHeld(Exception):
    """The lock stayed held by another process (or thread) for the whole wait."""

    def __init__(self, path: Path, holder: Holder) -> None:
        super().__init__(f"{path} is held by {holder}")
        self.path = path
        self.holder = holder


@dataclass(frozen=True)
class Holder:
    #: the PID the lock file records, None when it records none (taken a moment ago)
    pid: int | None
    #: whether a process with that PID runs here (a PID of another machine or container does not)
    running: bool

    def __str__(self) -> str:
        if self.pid is None:
            return "an unknown process"
        return f"pid {self.pid}" + ("" if self.running else " (not running)")


def _turn(path: Path) -> threading.Lock:
    with _turns_guard:
        return _turns.setdefault(str(path.absolute()), threading.Lock())


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _recorded_holder(fd: int) -> Holder:
    text = os.pread(fd, 32, 0).decode("ascii", errors="replace").strip()
    if not text.isdigit():
        return Holder(None, running=False)
    pid = int(text)
    return Holder(pid, running=_running(pid))


@contextlib.contextmanager
def process_lock(path: Path, timeout_s: float) -> Iterator[None]:
    """Hold the lock file `path` for the block, waiting up to `timeout_s` for another holder.

    Raises LockHeld naming the holder when the wait runs out. Where fcntl is missing (Windows) the
    threads of this process still take turns, but processes do not.
    """
    deadline = time.monotonic() + timeout_s
    turn = _turn(path)
    if not turn.acquire(timeout=max(0.0, timeout_s)):
        raise LockHeld(path, Holder(os.getpid(), running=True))
    try:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows
            yield
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            while True:
                try:
                    fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except OSError as exc:
                    if exc.errno not in (errno.EACCES, errno.EAGAIN):
                        raise
                    if time.monotonic() >= deadline:
                        raise LockHeld(path, _recorded_holder(fd)) from None
                    time.sleep(POLL_S)
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
            try:
                yield
            finally:
                # a later waiter must not read our PID once we are gone
                os.ftruncate(fd, 0)
                fcntl.lockf(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
    finally:
        turn.release()
