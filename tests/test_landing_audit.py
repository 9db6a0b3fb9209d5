"""The landing log's audit (models/audits/landing_batch.sql) finds every kind of broken batch.

A pipeline never writes one, so the audit's query is run here, on DuckDB, over landing logs built
by hand: one good file per batch, plus one fault at a time in the newest batch (or in an older
one, which the audit does not look at again).
"""

from __future__ import annotations

import re
from collections.abc import Callable

import duckdb
import pytest

from casper.resources import models_dir

COLUMNS = (
    "source_file VARCHAR, record_no BIGINT, record_kind VARCHAR, event_id VARCHAR, "
    "event_type VARCHAR, ts TIMESTAMP, gk_id VARCHAR, location VARCHAR, order_id VARCHAR, "
    "sequence INTEGER, body VARCHAR, raw_text VARCHAR, reason VARCHAR, batch_no BIGINT, "
    "ingested_at TIMESTAMP"
)
NAMES = [part.split()[0] for part in COLUMNS.split(", ")]


def _audit_query() -> str:
    text = (models_dir() / "audits" / "landing_batch.sql").read_text()
    query = text[text.index(");", text.index("AUDIT (")) + 2 :]
    return re.sub(r"@this_model\b", "landing_log", query)


def marker(name: str, batch: int) -> dict:
    return {"source_file": name, "record_no": 0, "record_kind": "file", "batch_no": batch}


def event(name: str, number: int, batch: int, **changes) -> dict:
    row = {
        "source_file": name,
        "record_no": number,
        "record_kind": "event",
        "event_id": f"{name}-{number}",
        "event_type": "gk_started",
        "ts": "2026-01-01 12:00:00",
        "gk_id": "gk-chicago",
        "location": "chicago",
        "order_id": "o1",
        "sequence": number,
        "body": "{}",
        "batch_no": batch,
    }
    return {**row, **changes}


def quarantined(name: str, number: int, batch: int, **changes) -> dict:
    row = {
        "source_file": name,
        "record_no": number,
        "record_kind": "quarantine",
        "raw_text": "not json",
        "reason": "invalid_json",
        "batch_no": batch,
    }
    return {**row, **changes}


def good_log() -> list[dict]:
    """An older batch (1) and the newest (2), each one file: a marker and its records."""
    return [
        marker("a.ndjson", 1),
        event("a.ndjson", 1, 1),
        marker("b.ndjson", 2),
        event("b.ndjson", 1, 2),
        quarantined("b.ndjson", 2, 2),
    ]


def problems(rows: list[dict]) -> list[tuple]:
    with duckdb.connect() as connection:
        connection.execute(f"CREATE TABLE landing_log ({COLUMNS})")
        for row in rows:
            values = [row.get(name) for name in NAMES]
            values[NAMES.index("ingested_at")] = row.get("ingested_at", "2026-01-01 12:00:01")
            connection.execute(
                f"INSERT INTO landing_log VALUES ({', '.join('?' * len(NAMES))})", values
            )
        return sorted(connection.execute(_audit_query()).fetchall(), key=str)


NOT_ONCE = "file not ingested exactly once"
BROKEN = "record breaks the landing contract"


def test_a_good_landing_log_passes():
    assert problems(good_log()) == []


def added(row: dict) -> Callable[[list[dict]], list[dict]]:
    return lambda rows: [*rows, row]


def without(row: dict) -> Callable[[list[dict]], list[dict]]:
    return lambda rows: [kept for kept in rows if kept != row]


def replaced(old: dict, new: dict) -> Callable[[list[dict]], list[dict]]:
    """The log with its row `old` replaced by `new` (`old` must be in it: a replacement that
    matched nothing would leave the good log, and a test expecting no problem would pass)."""

    def change(rows: list[dict]) -> list[dict]:
        assert old in rows
        return [new if kept == old else kept for kept in rows]

    return change


def newest_event(**changes) -> Callable[[list[dict]], list[dict]]:
    """The good log with the newest batch's event changed by `changes`."""
    return replaced(event("b.ndjson", 1, 2), event("b.ndjson", 1, 2, **changes))


FAULTS = {
    "a second marker": (added(marker("b.ndjson", 2)), (NOT_ONCE, "b.ndjson", None)),
    "no marker": (without(marker("b.ndjson", 2)), (NOT_ONCE, "b.ndjson", None)),
    "a record number twice": (
        added(event("b.ndjson", 1, 2, event_id="other")),
        (NOT_ONCE, "b.ndjson", None),
    ),
    "records in an older batch too": (added(event("b.ndjson", 3, 1)), (NOT_ONCE, "b.ndjson", None)),
    "an event without ts": (newest_event(ts=None), (BROKEN, "b.ndjson", 1)),
    "an event with a reason": (newest_event(reason="unknown_event_type"), (BROKEN, "b.ndjson", 1)),
    "a quarantined record without raw text": (
        replaced(quarantined("b.ndjson", 2, 2), quarantined("b.ndjson", 2, 2, raw_text=None)),
        (BROKEN, "b.ndjson", 2),
    ),
    "a marker with record data": (
        replaced(marker("b.ndjson", 2), {**marker("b.ndjson", 2), "event_id": "x"}),
        (BROKEN, "b.ndjson", 0),
    ),
    "an unknown record kind": (newest_event(record_kind="other"), (BROKEN, "b.ndjson", 1)),
    "no ingestion time": (newest_event(ingested_at=None), (BROKEN, "b.ndjson", 1)),
}


@pytest.mark.parametrize("fault", FAULTS)
def test_each_fault_in_the_newest_batch_is_named_with_its_file_and_record(fault):
    broken, expected = FAULTS[fault]
    assert problems(broken(good_log())) == [expected]


def test_an_older_batch_is_not_audited_again():
    """Each batch was audited when it landed: the audit reads only the newest one's records."""
    older = replaced(event("a.ndjson", 1, 1), event("a.ndjson", 1, 1, ts=None))
    assert problems(older(good_log())) == []
