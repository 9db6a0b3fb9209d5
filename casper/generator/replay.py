"""`casper replay DATASET`: land a stored dataset again at any speed, shifted to the present.

A dataset is a folder (or one file) of our NDJSON / JSON-array event files, or the reference's
canonical dataset as published: a folder with events.parquet, locations.parquet and the dimension
files (casper.generator.reference expands its compact rows into events).

Where the replay starts (fixed by the first run, recorded beside its checkpoint):
- by default the dataset's first event lands at the present, and the replay runs from there at
  --speed;
- `--start-day N`, the reference's START_DAY: the dataset's day 0 (the day of its first event,
  midnight UTC) moves to N days before today, so day N is today; the first run lands days 0..N up
  to the present's time of day at once, then goes on at --speed. Later runs continue from where the
  last one stopped, at --speed (a run that was stopped does not skip the time it was stopped).

Looping (--loop) replays the dataset again after its end, in one of two styles:
- `casper` (ours): a loop is the dataset's span plus a minute; loop k (k >= 1) suffixes order and
  event ids with `-k`;
- `reference`: a loop is the dataset's days (day 0 to the day of its last order), as the reference
  loops its 90 days; loop k suffixes order ids with `-Lk`. An order of a loop's last evening may
  still be delivered while the next loop's first orders arrive.
A reference dataset's event ids are derived from the order id with its suffix, event type and
sequence (casper.generator.reference.event_ids); our files' ids get the suffix.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from casper.errors import CasperError
from casper.generator import reference
from casper.generator.events import EVENT_COLUMNS, TS_FORMAT, empty_events, to_ndjson
from casper.generator.simulation import to_us
from casper.generator.stream import Position, after_position

LOOP_GAP_US = 60_000_000
US_PER_DAY = 86_400_000_000
LOOP_STYLES = ("casper", "reference")
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
        raise CasperError(
            f"{dataset}: no .ndjson or .json event files in this folder, and no events.parquet"
        )
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


@dataclass(frozen=True)
class Dataset:
    """What a replay lands: the events sorted by (ts_us, order_id, sequence), how a batch of them
    becomes a landing file, and for the reference's dataset, its dimension files."""

    events: pl.DataFrame
    encode: Callable[[pl.DataFrame], bytes] = to_ndjson
    reference: reference.ReferenceDataset | None = None


def open_dataset(path: Path) -> Dataset:
    if reference.is_reference_dataset(path):
        loaded = reference.load_reference(path)
        return Dataset(loaded.events, lambda batch: reference.encode(batch, EVENT_COLUMNS), loaded)
    return Dataset(load_dataset(path))


def dataset_name(dataset: Path) -> str:
    if dataset.is_file() and reference.is_reference_dataset(dataset):
        dataset = dataset.parent
    return re.sub(r"[^a-z0-9]+", "-", dataset.resolve().name.lower()).strip("-") or "dataset"


def day_start(ts_us: int) -> int:
    return ts_us - ts_us % US_PER_DAY


class ReplaySource:
    def __init__(
        self, events: pl.DataFrame, shift_us: int, loop: bool, style: str = "casper"
    ) -> None:
        self.events = events
        self.shift_us = shift_us
        self.loop = loop
        self.style = style
        self.first_us = int(events["ts_us"][0])
        self.last_us = int(events["ts_us"][-1])
        if style == "reference":
            # loops of whole days, from day 0 (the first event's) to the day of the last order
            self.origin_us = day_start(self.first_us)
            created = events.filter(pl.col("event_type") == "order_created")["ts_us"]
            last_order = int(created.max()) if created.len() else self.last_us
            self.period_us = (day_start(last_order) - self.origin_us) + US_PER_DAY
        else:
            self.origin_us = self.first_us
            self.period_us = self.last_us - self.first_us + LOOP_GAP_US
        # how many earlier loops may still have events when a loop starts
        self.spill = max(0, (self.last_us - self.origin_us) // self.period_us)
        self._extra = [c for c in ("replay_unmapped", "raw", "id_key") if c in events.columns]
        self._loops: dict[int, pl.DataFrame] = {}

    @property
    def start(self) -> Position:
        return Position.before(self.first_us + self.shift_us)

    def suffix(self, k: int) -> str:
        if not k:
            return ""
        return f"-L{k}" if self.style == "reference" else f"-{k}"

    def _loop_index(self, ts_us: int) -> int:
        return max(0, (ts_us - self.shift_us - self.origin_us) // self.period_us)

    def _loop(self, k: int) -> pl.DataFrame:
        if k not in self._loops:
            offset = self.shift_us + k * self.period_us
            suffix = self.suffix(k)
            events = self.events.with_columns(
                ts_us=pl.col("ts_us") + offset,
                ts=pl.from_epoch(pl.col("ts_us") + offset, time_unit="us").dt.strftime(TS_FORMAT),
                order_id=pl.col("order_id") + suffix,
            )
            if "event_id" in events.columns:
                events = events.with_columns(event_id=pl.col("event_id") + suffix)
            # else a reference dataset's: derived from the suffixed order id when landed (encode)
            keep = k - 2 - self.spill
            self._loops = {
                **{j: f for j, f in self._loops.items() if j > keep},
                k: events.select(
                    [c for c in (*EVENT_COLUMNS, "ts_us", *self._extra) if c in events.columns]
                ),
            }
        return self._loops[k]

    def window(self, after: Position, until_us: int) -> pl.DataFrame:
        last_loop = self._loop_index(until_us) if self.loop else 0
        first_loop = max(0, self._loop_index(after.ts_us) - self.spill) if self.loop else 0
        frames = []
        for k in range(first_loop, last_loop + 1):
            events = self._loop(k)
            # sorted by time: slice first, then apply the exact key filter to the slice
            low = events["ts_us"].search_sorted(after.ts_us, side="left")
            high = events["ts_us"].search_sorted(until_us, side="right")
            if high > low:
                frames.append(events.slice(low, high - low))
        if not frames:
            return self._loop(0).clear()
        window = pl.concat(frames)
        if len(frames) > 1 and self.spill:  # loops overlap: merge them in key order
            window = window.sort(["ts_us", "order_id", "sequence"], maintain_order=True)
        return window.filter(after_position(after) & (pl.col("ts_us") <= until_us))

    def end_us(self) -> int | None:
        return None if self.loop else self.last_us + self.shift_us


@dataclass(frozen=True)
class Anchor:
    """Where a replay sits in time, fixed by its first run: the shift of the dataset's timestamps,
    the --start-day it began with (None: ours), its loop style, and the present of that first run
    up to which it lands everything at once (--start-day only)."""

    shift_us: int
    start_day: int | None = None
    loop_style: str = "casper"
    catchup_us: int | None = None


def replay_anchor(
    meta_path: Path,
    events: pl.DataFrame,
    now: dt.datetime,
    *,
    start_day: int | None = None,
    loop_style: str | None = None,
) -> Anchor:
    """The replay's anchor: recorded by its first run, so a resumed replay continues it. A later
    run that asks for another --start-day or loop style is refused."""
    if meta_path.exists():
        saved = json.loads(meta_path.read_text())
        anchor = Anchor(
            int(saved["shift_us"]),
            saved.get("start_day"),
            saved.get("loop_style", "casper"),
            saved.get("catchup_us"),
        )
        if start_day is not None and start_day != anchor.start_day:
            began = (
                "without --start-day: continue it without the option"
                if anchor.start_day is None
                else f"with --start-day {anchor.start_day}: continue it with that or without the option"
            )
            raise CasperError(f"this replay began {began}, or replay into another --home")
        if loop_style is not None and loop_style != anchor.loop_style:
            raise CasperError(
                f"this replay loops in the {anchor.loop_style} style; --loop-style {loop_style} "
                "would give its orders other ids: replay into another --home"
            )
        return anchor
    first_us = int(events["ts_us"][0])
    if start_day is None:
        anchor = Anchor(to_us(now) - first_us, None, loop_style or "casper")
    else:
        today = to_us(now.replace(hour=0, minute=0, second=0, microsecond=0))
        shift = today - start_day * US_PER_DAY - day_start(first_us)
        anchor = Anchor(shift, start_day, loop_style or "casper", to_us(now))
    meta_path.parent.mkdir(parents=True, exist_ok=True)
    temporary = meta_path.with_name(f".{meta_path.name}.tmp")
    temporary.write_text(
        json.dumps(
            {
                "shift_us": anchor.shift_us,
                "start_day": anchor.start_day,
                "loop_style": anchor.loop_style,
                "catchup_us": anchor.catchup_us,
            }
        )
    )
    os.replace(temporary, meta_path)
    return anchor
