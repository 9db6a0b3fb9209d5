"""Data-quality scenarios beyond the reference's nulls: what a location-day lands, as files.

A location config's optional `dq_scenarios` block (casper.config.DQScenarios) asks for a share of
malformed lines, of re-landed duplicate files, of late events and of out-of-order files. This module
turns one location-day's events (the file `casper generate` would land) into the files to land, in
landing order, each a name and its bytes:

- malformed lines: each line is, with probability `malformed_lines`, written truncated (cut at a
  random character, never at the first): not JSON, so the pipeline quarantines it `invalid_json` and
  the event is lost (its order lacks that event);
- out-of-order files: with probability `out_of_order_files` the day's events from a random cut on
  (the file is in time order) land first, in `<day file>-tail.ndjson`, before the day's file with
  the earlier events: a file with later events ingested before one with earlier events, so some
  orders' step events arrive before their order_created;
- re-landed files: with probability `relanded_files` the day's file lands again, the same bytes,
  as `<day file>-relanded.ndjson` (at-least-once delivery: its events are bronze rows again);
- late events: each order with a driver_picked_up is, with probability `late_events`, late: its
  driver_picked_up, driver_ping and delivered events move to `<day file>-late.ndjson`, landed after
  the day's file (whenever the block asks for late events, even empty: the day's last file).

The landing order is [tail, day file, relanded, late]. `casper generate` skips a day whose last file
(`last_file`) has landed, so an interrupted run resumes with every file of a day or lands it again.
Nothing but the landing files changes: the events themselves are those of the clean run, line for
line (a malformed line is a prefix of the clean one).

The choices come from random streams of their own, seeded from (seed, location, day, "scenario"),
one per scenario, so they never disturb the simulation's streams (a config without the block lands
exactly the bytes it always did) and changing one share does not move another's choices.
"""

from __future__ import annotations

import datetime as dt
import zlib

import numpy as np
import polars as pl

from casper.config import DQScenarios
from casper.generator.events import to_ndjson

#: the word that tells the scenario streams apart from the simulation's (seed, location, day) ones
SCENARIO_WORD = zlib.crc32(b"scenario")
#: the scenarios' streams, in this order
MALFORMED, RELANDED, LATE, OUT_OF_ORDER = range(4)
#: the events that move to the late file (SPEC.md section 1: everything from the pickup on)
LATE_EVENT_TYPES = ("driver_picked_up", "driver_ping", "delivered")


def _seed_words(seed: int) -> list[int]:
    """A seed of any sign and size as non-negative 32-bit words (as the simulation spells it)."""
    words = [1 if seed < 0 else 0]
    magnitude = abs(seed)
    while True:
        words.append(magnitude & 0xFFFFFFFF)
        magnitude >>= 32
        if not magnitude:
            return words


def scenario_streams(seed: int, location: str, day: dt.date) -> list[np.random.Generator]:
    words = [*_seed_words(seed), zlib.crc32(location.encode()), day.toordinal(), SCENARIO_WORD]
    return [np.random.default_rng(s) for s in np.random.SeedSequence(words).spawn(4)]


def _stem(name: str) -> str:
    return name.removesuffix(".ndjson")


def tail_name(name: str) -> str:
    return f"{_stem(name)}-tail.ndjson"


def relanded_name(name: str) -> str:
    return f"{_stem(name)}-relanded.ndjson"


def late_name(name: str) -> str:
    return f"{_stem(name)}-late.ndjson"


def _relanded(streams: list[np.random.Generator], scenarios: DQScenarios) -> bool:
    # the stream's first draw, made whatever the share, so the choice is known before simulating
    return bool(streams[RELANDED].random() < scenarios.relanded_files)


def last_file(
    name: str, scenarios: DQScenarios | None, seed: int, location: str, day: dt.date
) -> str:
    """The file a location-day lands last (known without simulating the day): once it exists, the
    day has landed completely."""
    if scenarios is None or not scenarios.any:
        return name
    if scenarios.late_events > 0:
        return late_name(name)
    if _relanded(scenario_streams(seed, location, day), scenarios):
        return relanded_name(name)
    return name


def _lines(events: pl.DataFrame) -> list[bytes]:
    return to_ndjson(events).splitlines(keepends=True)


def _joined(lines: list[bytes]) -> bytes:
    return b"".join(lines)


def _truncated(line: bytes, rng: np.random.Generator) -> bytes:
    """The line cut at a random character after the first (cut on a character, so still UTF-8)."""
    text = line.rstrip(b"\n").decode("utf-8")
    keep = int(rng.integers(1, len(text)))
    return text[:keep].encode("utf-8") + b"\n"


def landing_files(
    name: str,
    events: pl.DataFrame,
    scenarios: DQScenarios | None,
    seed: int,
    location: str,
    day: dt.date,
) -> dict[str, bytes]:
    """The files one location-day lands (name -> bytes, in landing order); `events` are the day's
    events in file order, `name` the day's file. Without scenarios: the day's file alone."""
    if scenarios is None or not scenarios.any or events.is_empty():
        return {name: to_ndjson(events)}
    streams = scenario_streams(seed, location, day)
    relanded = _relanded(streams, scenarios)
    lines = _lines(events)
    # malformed: one draw per line (and one cut per line drawn), whatever else happens to it
    broken = streams[MALFORMED].random(len(lines)) < scenarios.malformed_lines
    for index in np.flatnonzero(broken):
        lines[index] = _truncated(lines[index], streams[MALFORMED])
    # late: one draw per order with a pickup, in order of first appearance in the file
    picked_up = events.filter(pl.col("event_type") == "driver_picked_up")["order_id"]
    late_orders = picked_up.filter(
        pl.Series(streams[LATE].random(picked_up.len()) < scenarios.late_events)
    )
    is_late = (
        events["order_id"].is_in(late_orders.implode())
        & events["event_type"].is_in(list(LATE_EVENT_TYPES))
    ).to_numpy()
    late = [line for line, moved in zip(lines, is_late, strict=True) if moved]
    day_lines = [line for line, moved in zip(lines, is_late, strict=True) if not moved]
    # out of order: the day's events from a cut on land first
    files: dict[str, bytes] = {}
    out_of_order = streams[OUT_OF_ORDER].random() < scenarios.out_of_order_files
    if out_of_order and len(day_lines) > 1:
        cut = int(streams[OUT_OF_ORDER].integers(1, len(day_lines)))
        files[tail_name(name)] = _joined(day_lines[cut:])
        day_lines = day_lines[:cut]
    files[name] = _joined(day_lines)
    if relanded:
        files[relanded_name(name)] = files[name]
    if scenarios.late_events > 0:
        files[late_name(name)] = _joined(late)
    return files
