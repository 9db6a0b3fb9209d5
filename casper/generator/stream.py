"""Paced, resumable event streams: the engine under `casper live` and `casper replay`.

A stream lands its events in batches (batch_rows events, or whatever arrived within batch_seconds)
as numbered files. The landed files are the truth: a checkpoint records how far the stream got, and on
start the stream looks for files landed after its checkpoint (the process may have been killed between
the rename and the checkpoint), so it never lands an event twice nor skips one.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple, Protocol

import polars as pl

from casper.engine import Lander
from casper.generator.events import empty_events, to_ndjson
from casper.generator.simulation import from_us, to_us

TICK_SECONDS = 0.05


class Position(NamedTuple):
    """The sort key of the last landed event: events are landed in (ts, order_id, sequence) order."""

    ts_us: int
    order_id: str
    sequence: int

    @classmethod
    def before(cls, ts_us: int) -> Position:
        """The position just before every event at or after ts_us."""
        return cls(ts_us, "", -1)


def after_position(position: Position) -> pl.Expr:
    ts, order, seq = pl.col("ts_us"), pl.col("order_id"), pl.col("sequence")
    return (ts > position.ts_us) | (
        (ts == position.ts_us)
        & ((order > position.order_id) | ((order == position.order_id) & (seq > position.sequence)))
    )


class StreamSource(Protocol):
    def window(self, after: Position, until_us: int) -> pl.DataFrame:
        """Events with a key after `after` and ts_us <= until_us, sorted by key."""

    def end_us(self) -> int | None:
        """The time after which the source has nothing more, or None if it never ends."""


def position_of_last_line(payload: bytes) -> Position:
    last = json.loads(payload.rstrip(b"\n").rsplit(b"\n", 1)[-1])
    ts = to_us(dt.datetime.fromisoformat(last["ts"]))
    return Position(ts, last["order_id"], int(last["sequence"]))


@dataclass
class PacedStream:
    """One resumable stream: its source, its landing files `<prefix>-<n>.ndjson`, its checkpoint."""

    prefix: str
    source: StreamSource
    lander: Lander
    checkpoint_path: Path
    start: Position
    speed: float
    batch_rows: int
    batch_seconds: float
    #: a batch's landing file (the source's events may carry more than the 8 fields)
    encode: Callable[[pl.DataFrame], bytes] = to_ndjson
    position: Position = field(init=False)
    files: int = field(init=False, default=0)
    clock_us: int = field(init=False)
    fetched: Position = field(init=False)
    pending: pl.DataFrame = field(init=False, default_factory=empty_events)
    landed_events: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        self.position = self.start
        self.clock_us = self.start.ts_us
        self._restore()
        self.fetched = self.position

    def file_name(self, number: int) -> str:
        return f"{self.prefix}-{number:09d}.ndjson"

    def _restore(self) -> None:
        if self.checkpoint_path.exists():
            saved = json.loads(self.checkpoint_path.read_text())
            self.position = Position(*saved["position"])
            self.files = int(saved["files"])
            self.clock_us = int(saved["clock_us"])
        # files landed after the last checkpoint write (a kill between rename and checkpoint)
        while self.lander.exists(self.file_name(self.files)):
            self.position = position_of_last_line(self.lander.read(self.file_name(self.files)))
            self.files += 1
        self.clock_us = max(self.clock_us, self.position.ts_us)

    def save(self) -> None:
        """Write the checkpoint (atomically): where the stream got to."""
        self.checkpoint_path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.checkpoint_path.with_name(f".{self.checkpoint_path.name}.tmp")
        temporary.write_text(
            json.dumps(
                {"position": list(self.position), "files": self.files, "clock_us": self.clock_us}
            )
        )
        os.replace(temporary, self.checkpoint_path)

    def _land(self, batch: pl.DataFrame) -> None:
        self.lander.land(self.file_name(self.files), self.encode(batch))
        last = batch.row(-1, named=True)
        self.position = Position(last["ts_us"], last["order_id"], last["sequence"])
        self.files += 1
        self.landed_events += batch.height
        self.save()

    def advance(self, sim_now_us: int) -> None:
        """Take in everything up to sim_now_us."""
        new = self.source.window(self.fetched, sim_now_us)
        self.clock_us = max(self.clock_us, sim_now_us)
        if new.height:
            self.pending = new if self.pending.is_empty() else pl.concat([self.pending, new])
            last = new.row(-1, named=True)
            self.fetched = Position(last["ts_us"], last["order_id"], last["sequence"])

    def flush(self, *, everything: bool, rows: int | None = None) -> int:
        """Land full batches (of `rows` events, default batch_rows); with `everything`, the
        remainder too. Returns files landed."""
        rows = rows or self.batch_rows
        landed = 0
        while self.pending.height >= rows or (everything and self.pending.height):
            batch = self.pending.head(rows)
            self.pending = self.pending.slice(batch.height)
            self._land(batch)
            landed += 1
        return landed

    def at_limit(self, until_us: int | None) -> bool:
        """Simulated time reached `until_us` or the source's end: nothing more will arrive."""
        limits = [x for x in (until_us, self.source.end_us()) if x is not None]
        return bool(limits) and self.clock_us >= min(limits)

    def finished(self, until_us: int | None) -> bool:
        return self.at_limit(until_us) and not self.pending.height


@dataclass(frozen=True)
class StreamProgress:
    prefix: str
    sim_time: str
    landed_events: int
    files: int

    @classmethod
    def of(cls, stream: PacedStream) -> StreamProgress:
        return cls(
            stream.prefix,
            from_us(stream.clock_us).isoformat(sep=" "),
            stream.landed_events,
            stream.files,
        )


def run_streams(
    streams: list[PacedStream],
    *,
    stop: threading.Event,
    until_us: int | None = None,
    on_flush: Callable[[StreamProgress], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Pace every stream against the wall clock until `stop` is set or all reach `until_us`.

    Simulated time restarts where each stream stopped: a pause does not skip any simulated time.
    """
    wall_origin = clock()
    origins = {s.prefix: s.clock_us for s in streams}
    last_flush = {s.prefix: wall_origin for s in streams}
    try:
        while not stop.is_set():
            now = clock()
            for stream in streams:
                sim_now = origins[stream.prefix] + int(
                    (now - wall_origin) * stream.speed * 1_000_000
                )
                if until_us is not None:
                    sim_now = min(sim_now, until_us)
                stream.advance(sim_now)
                # at the end there is no point waiting for a batch to fill
                due = now - last_flush[stream.prefix] >= stream.batch_seconds or stream.at_limit(
                    until_us
                )
                if stream.flush(everything=due) or due:
                    last_flush[stream.prefix] = now
                    if on_flush:
                        on_flush(StreamProgress.of(stream))
            if all(s.finished(until_us) for s in streams):
                return
            stop.wait(TICK_SECONDS)
    finally:
        # whatever was taken in is landed: it is all at or before simulated now; the checkpoint
        # then records how far simulated time got, so the next run starts from there
        for stream in streams:
            stream.flush(everything=True)
            stream.save()


@dataclass(frozen=True)
class RunSpan:
    """Where a run bounded by --sim-minutes ends, recorded in `path` while the run lasts.

    The end is fixed when the run starts. A run killed (kill -9, a crash) leaves the record behind,
    so its restart with the same minutes ends where it would have, instead of counting the minutes
    again from where it resumes. A run that ends by itself or is stopped removes the record: the
    next one is a run of its own, bounded from where it starts.
    """

    path: Path

    def recorded(self, sim_minutes: float) -> int | None:
        """The end of an interrupted run with these minutes, if one is recorded."""
        try:
            saved = json.loads(self.path.read_text())
            if float(saved["sim_minutes"]) == sim_minutes:
                return int(saved["until_us"])
        except (OSError, ValueError, KeyError, TypeError):
            pass  # none, or not one this code wrote: a new run
        return None

    def record(self, sim_minutes: float, until_us: int) -> int:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(f".{self.path.name}.tmp")
        temporary.write_text(json.dumps({"sim_minutes": sim_minutes, "until_us": until_us}))
        os.replace(temporary, self.path)
        return until_us

    def close(self) -> None:
        self.path.unlink(missing_ok=True)
