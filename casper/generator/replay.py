"""`casper replay DATASET`: land a stored dataset again at any speed, shifted to the present.

Looping replays it again after its end; loop k (k >= 1) suffixes order and event ids with `-k` so
each loop's orders are new orders downstream.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from pathlib import Path

import polars as pl

from casper.errors import CasperError
from casper.generator.events import EVENT_COLUMNS, TS_FORMAT, empty_events
from casper.generator.simulation import to_us
from casper.generator.stream import Position, after_position

LOOP_GAP_US = 60_000_000
_SCHEMA = {name: dtype for name, dtype in empty_events().schema.items() if name in EVENT_COLUMNS}


def dataset_files(dataset: Path) -> list[Path]:
    if dataset.is_file():
        return [dataset]
    if dataset.is_dir():
        files = sorted(
            p
            for p in dataset.iterdir()
            if p.suffix in {".ndjson", ".json"} and not p.name.startswith(".")
        )
        if files:
            return files
        raise CasperError(f"{dataset}: no .ndjson or .json event files in this folder")
    raise CasperError(f"{dataset}: no such dataset file or folder")


def _read(path: Path) -> pl.DataFrame:
    try:
        if path.suffix == ".json":
            document = json.loads(path.read_bytes())
            if not isinstance(document, list):
                raise ValueError("a .json dataset file holds one JSON array of events")
            return pl.DataFrame(document, schema=_SCHEMA, strict=False)
        return pl.read_ndjson(path, schema=_SCHEMA)
    except (ValueError, pl.exceptions.PolarsError) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CasperError(f"{path}: cannot replay: {first_line}") from None


def load_dataset(dataset: Path) -> pl.DataFrame:
    """Every event of the dataset, sorted by time, with ts_us; events without a ts cannot be paced."""
    events = pl.concat([_read(p) for p in dataset_files(dataset)])
    events = events.with_columns(
        ts_us=pl.col("ts").str.to_datetime(TS_FORMAT, strict=False).dt.epoch("us")
    )
    unusable = events.filter(pl.col("ts_us").is_null() | pl.col("order_id").is_null())
    if unusable.height:
        raise CasperError(
            f"{dataset}: {unusable.height} event(s) lack a valid ts or order_id, so they cannot be replayed in time"
        )
    if events.is_empty():
        raise CasperError(f"{dataset}: the dataset holds no events")
    return events.sort(["ts_us", "order_id", "sequence"])


def dataset_name(dataset: Path) -> str:
    return re.sub(r"[^a-z0-9]+", "-", dataset.resolve().name.lower()).strip("-") or "dataset"


class ReplaySource:
    def __init__(self, events: pl.DataFrame, shift_us: int, loop: bool) -> None:
        self.events = events
        self.shift_us = shift_us
        self.loop = loop
        self.first_us = int(events["ts_us"][0])
        self.last_us = int(events["ts_us"][-1])
        self.period_us = self.last_us - self.first_us + LOOP_GAP_US
        self._loops: dict[int, pl.DataFrame] = {}

    @property
    def start(self) -> Position:
        return Position.before(self.first_us + self.shift_us)

    def _loop_index(self, ts_us: int) -> int:
        return max(0, (ts_us - self.shift_us - self.first_us) // self.period_us)

    def _loop(self, k: int) -> pl.DataFrame:
        if k not in self._loops:
            offset = self.shift_us + k * self.period_us
            suffix = f"-{k}" if k else ""
            self._loops = {
                **{j: f for j, f in self._loops.items() if j > k - 2},
                k: self.events.with_columns(
                    ts_us=pl.col("ts_us") + offset,
                    ts=pl.from_epoch(pl.col("ts_us") + offset, time_unit="us").dt.strftime(
                        TS_FORMAT
                    ),
                    order_id=pl.col("order_id") + suffix,
                    event_id=pl.col("event_id") + suffix,
                ).select([*EVENT_COLUMNS, "ts_us"]),
            }
        return self._loops[k]

    def window(self, after: Position, until_us: int) -> pl.DataFrame:
        last_loop = self._loop_index(until_us) if self.loop else 0
        frames = []
        for k in range(self._loop_index(after.ts_us), last_loop + 1):
            events = self._loop(k)
            # sorted by time: slice first, then apply the exact key filter to the slice
            low = events["ts_us"].search_sorted(after.ts_us, side="left")
            high = events["ts_us"].search_sorted(until_us, side="right")
            frames.append(events.slice(low, max(0, high - low)))
        if not frames:
            return self._loop(0).clear()
        return pl.concat(frames).filter(after_position(after) & (pl.col("ts_us") <= until_us))

    def end_us(self) -> int | None:
        return None if self.loop else self.last_us + self.shift_us


def replay_shift(meta_path: Path, first_us: int, now: dt.datetime) -> int:
    """How far the dataset moves in time: fixed at the first run so a resumed replay continues it."""
    if meta_path.exists():
        return int(json.loads(meta_path.read_text())["shift_us"])
    shift = to_us(now) - first_us
    meta_path.parent.mkdir(parents=True, exist_ok=True)
    temporary = meta_path.with_name(f".{meta_path.name}.tmp")
    temporary.write_text(json.dumps({"shift_us": shift}))
    os.replace(temporary, meta_path)
    return shift
