"""The Lakeflow pipeline on DuckDB: ingest exactly once, quarantine, dedup, gold and ai tables, watch.

Every test runs the real SQLMesh project on a real warehouse.duckdb under a temporary home and reads
the result back with a plain DuckDB client (so the warehouse is also proven readable by one).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import gc
import inspect
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from casper.appstore.store import open_store
from casper.appstore.sync import SyncReport
from casper.collector import NO_AUTOMATIC_FULL_COLLECTION
from casper.engine import Engine, WarehouseBusyError, open_engine
from casper.home import CasperHome
from casper.landing import INDEX_FILE, event_time, measure
from casper.pipeline import (
    MODELS_START,
    Pipeline,
    PipelineReport,
    run_pipeline,
    watch_pipeline,
)
from casper.reverse_etl import sync_to_store
from casper.settings import Settings, SettingsError
from casper.status import collect_status
from tests import pipeline_fixtures as pf
from tests.cli_helpers import casper_in_process
from tests.engine_helpers import engine_for

# every test builds the real SQLMesh project at least once
pytestmark = pytest.mark.slow

ORDERS = pf.standard_orders()
DQ_ORDERS = [
    # DQ injection nulled these body fields: the events stay in bronze, the order is handled
    pf.OrderSpec(
        "o-dq-1",
        dt.datetime(2025, 3, 3, 13, 0),
        items=((2, 2),),
        body_nulls={
            "order_created": ("customer_lat", "customer_lon"),
            "driver_picked_up": ("route_points",),
        },
    ),
    pf.OrderSpec(
        "o-dq-2", dt.datetime(2025, 3, 3, 13, 30), body_nulls={"order_created": ("items",)}
    ),
]
ORPHAN = pf.OrderSpec("o-orphan", dt.datetime(2025, 3, 3, 14, 0))


def _home(root: Path) -> CasperHome:
    return CasperHome(root).ensure()


@dataclass
class Landed:
    home: CasperHome
    records: dict[str, int]  # records landed per file, counted here independently of the pipeline
    bad: list[tuple[str, str]]  # the broken lines of a.ndjson and their expected reasons
    report: PipelineReport
    progress: list[str]


@pytest.fixture(scope="module")
def landed(tmp_path_factory) -> Landed:
    """A landing folder with every kind of file the pipeline must handle, and one run over it."""
    home = _home(tmp_path_factory.mktemp("landed"))
    records, bad = _land_every_kind(home)
    progress: list[str] = []
    report = run_pipeline(engine_for(home), on_progress=progress.append)
    return Landed(home, records, bad, report, progress)


def _land_every_kind(home: CasperHome) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """Lands every kind of file the pipeline must handle; returns the records of each file and
    the broken lines of a.ndjson with their reasons."""
    # the broken lines have the newest ts of all: status must not take it (they are quarantined)
    bad = pf.bad_lines(when=dt.datetime(2025, 3, 9))
    events = pf.events_of(ORDERS[:4])
    orphan = [e for e in pf.order_events(ORPHAN) if e["event_type"] != "order_created"]
    files = {
        # NDJSON: four complete orders, then every kind of broken line (the last one truncated)
        "a.ndjson": [*events, *(line for line, _ in bad)],
        # the reference's batch format: one JSON array
        "b.json": pf.events_of(ORDERS[4:]),
        # DQ-nulled bodies and an order whose order_created never landed
        "c.ndjson": [*pf.events_of(DQ_ORDERS), *orphan],
    }
    text = pf.land_ndjson(home.landing, "a.ndjson", files["a.ndjson"]).read_text()
    (home.landing / "a.ndjson").write_text(text.rstrip("\n"))  # no newline after the truncated line
    pf.land_json_array(home.landing, "b.json", files["b.json"], indent=2)
    pf.land_ndjson(home.landing, "c.ndjson", files["c.ndjson"])
    pf.land_bytes(
        home.landing, "d.json", b'[{"event_id": "cut", "event_type": "gk_sta'
    )  # truncated
    pf.land_bytes(home.landing, "e.ndjson", b"")  # empty
    pf.land_bytes(home.landing, "f.ndjson", b'{"event_id": "\xff\xfe"}\n')  # not UTF-8
    pf.land_ndjson(home.landing, "g[1].ndjson", pf.events_of(ORDERS[:1]))  # a glob in the name
    # JSON Lines by its other name, after a byte-order mark and a blank line
    jsonl = pf.land_ndjson(home.landing, "h.jsonl", pf.events_of(ORDERS[1:2])).read_bytes()
    pf.land_bytes(home.landing, "h.jsonl", "\ufeff \r\n".encode() + jsonl)
    # latin-1, not UTF-8, over several lines of events newer than all others: one record
    latin = pf.OrderSpec("o-latin", dt.datetime(2025, 3, 10, 12, 0))
    text = pf.land_ndjson(home.landing, "j.ndjson", pf.order_events(latin)).read_bytes()
    pf.land_bytes(home.landing, "j.ndjson", text.replace(b"1 Test St", b"Caf\xe9 1 Test St"))
    # an array of objects the pipeline quarantines, all of them newer than every event
    pf.land_json_array(home.landing, "k.json", [record for record, _ in _objects(bad)])
    # an array nested deeper than Python's json module parses (the engines do): 2 records
    deep = "[" * 5000 + "]" * 5000
    pf.land_bytes(home.landing, "l.json", f'[{{"event_id": "deep"}}, {deep}]'.encode())
    (home.landing / "i.NDJSON").write_text("{}\n")  # not a landing file (suffixes are exact)
    (home.landing / ".g.ndjson.123.tmp").write_text('{"half": ')  # a writer's temporary
    (home.landing / "notes.txt").write_text("not a landing file")
    (home.landing / "m.ndjson").mkdir()  # a folder, named like a landing file: never read
    (home.landing / "m.ndjson" / "inner.ndjson").write_text("{}\n")
    records = {
        "a.ndjson": len(files["a.ndjson"]),
        "b.json": len(files["b.json"]),
        "c.ndjson": len(files["c.ndjson"]),
        "d.json": 1,  # a file that cannot be split is one quarantined record
        "e.ndjson": 0,
        "f.ndjson": 1,
        "g[1].ndjson": 1,  # never read: one quarantined record naming the file
        "h.jsonl": len(pf.events_of(ORDERS[1:2])),
        "j.ndjson": 1,  # not UTF-8: one quarantined record, however many lines
        "k.json": len(_objects(bad)),
        "l.json": 2,
    }
    return records, bad


def _objects(bad: list[tuple[str, str]]) -> list[tuple[dict, str]]:
    """The broken lines that are JSON objects, parsed, with their reasons."""
    objects = []
    for line, reason in bad:
        with contextlib.suppress(ValueError):
            if isinstance(record := json.loads(line), dict):
                objects.append((record, reason))
    return objects


def test_first_run_ingests_every_landing_file_once(landed):
    home, records = landed.home, landed.records
    files = pf.query(
        home, "SELECT source_file, events, quarantined FROM lakeflow.ingested_files ORDER BY 1"
    )
    assert [f for f, _, _ in files] == sorted(records)  # hidden temporaries and *.txt are not read
    for name, events, quarantined in files:
        assert events + quarantined == records[name], name


def test_counts_reconcile_landed_equals_bronze_plus_quarantine(landed):
    home, records = landed.home, landed.records
    bronze = pf.scalar(home, "SELECT COUNT(*) FROM lakeflow.all_events")
    quarantined = pf.scalar(home, "SELECT COUNT(*) FROM lakeflow.quarantine")
    assert bronze + quarantined == sum(records.values())
    assert warehouse_counts(home) == {
        "bronze_events": bronze,
        "quarantined": quarantined,
        # a.ndjson's lines that are not JSON objects, and l.json's deep array (not an object)
        "quarantined_invalid_json": sum(reason == "invalid_json" for _, reason in landed.bad) + 1,
        # h.jsonl lands ORDERS[1]'s events again (a.ndjson has them), each with its order_created
        "duplicate_events": len(pf.events_of(ORDERS[1:2])),
        "late_events": 0,
        "orders": len(ORDERS) + len(DQ_ORDERS),
        "delivered_orders": sum(o.delivered_min is not None for o in ORDERS + DQ_ORDERS),
        "recommendations": 0,
    }
    # `casper status` counts landing files and records by the same definition as the pipeline
    status = collect_status(engine_for(home))
    assert status["landed_files"] == len(records)
    assert status["landed_events"] == sum(records.values()) == bronze + quarantined
    # file by file (a miscount in one file cannot hide behind another's)
    per_file = pf.query(
        home, "SELECT source_file, events + quarantined FROM lakeflow.ingested_files"
    )
    for name, count in per_file:
        assert measure(name, (home.landing / name).read_bytes())[0] == count, name
    # the newest event time is a bronze event's, not that of a newer record it quarantined
    newest = max(e["ts"] for e in pf.events_of([*ORDERS, *DQ_ORDERS, ORPHAN]))
    assert max(record["ts"] for record, _ in _objects(landed.bad)) > newest
    bronze_newest = pf.scalar(
        home, "SELECT strftime(MAX(ts), '%Y-%m-%d %H:%M:%S.%f') FROM lakeflow.all_events"
    )
    assert status["newest_event_ts"] == newest == bronze_newest


def test_status_decides_bronze_or_quarantine_as_the_pipeline_does_for_every_record(landed):
    """The rule behind status's newest event time (casper.landing.event_time) gives, record by
    record, the pipeline's outcome: bronze event or quarantined."""
    home = landed.home
    names = ("a.ndjson", "b.json", "c.ndjson", "h.jsonl", "k.json")
    pipeline = {
        (name, number): kind
        for name, number, kind in pf.query(
            home,
            "SELECT source_file, record_no, record_kind FROM lakeflow.landing_records "
            f"WHERE record_no > 0 AND source_file IN {names}",
        )
    }
    status = {}
    for name in names:
        text = (home.landing / name).read_bytes().decode().lstrip("\ufeff")
        if name.endswith(".json"):
            records = [json.dumps(element) for element in json.loads(text)]
        else:
            records = text.split("\n")
        for number, record in enumerate(records, 1):
            if record.strip(" \t\r"):
                status[name, number] = "quarantine" if event_time(record) is None else "event"
    assert status == pipeline
    assert set(status.values()) == {"event", "quarantine"}


def test_status_measures_again_what_an_index_of_an_older_version_remembers(tmp_path):
    home = _home(tmp_path / "home")
    good = pf.order_events(ORDERS[0])[0]
    bad = dict((reason, line) for line, reason in pf.bad_lines(when=dt.datetime(2030, 1, 1)))
    landed = pf.land_ndjson(home.landing, "a.ndjson", [good, bad["unknown_event_type"]])
    stat = landed.stat()
    key = f"a.ndjson:{stat.st_size}:{stat.st_mtime_ns}"
    # the index of the definition before: a plain mapping, the ts of any line counted
    home.generator.mkdir(parents=True, exist_ok=True)
    (home.generator / INDEX_FILE).write_text(json.dumps({key: [2, "2030-01-01 00:00:00.000000"]}))
    assert collect_status(engine_for(home))["newest_event_ts"] == good["ts"]


def test_bad_records_are_quarantined_with_file_raw_text_and_reason(landed):
    home, records, bad = landed.home, landed.records, landed.bad
    first_bad = records["a.ndjson"] - len(bad) + 1
    rows = pf.query(
        home,
        "SELECT record_no, reason, raw_text FROM lakeflow.quarantine WHERE source_file = 'a.ndjson' ORDER BY 1",
    )
    assert rows == [(first_bad + i, reason, line) for i, (line, reason) in enumerate(bad)]
    rows = pf.query(
        home,
        "SELECT record_no, reason FROM lakeflow.quarantine WHERE source_file = 'k.json' ORDER BY 1",
    )
    assert rows == [(i + 1, reason) for i, (_, reason) in enumerate(_objects(bad))]
    rows = pf.query(
        home,
        "SELECT record_no, reason FROM lakeflow.quarantine WHERE source_file = 'l.json' ORDER BY 1",
    )
    assert rows == [(1, "missing_field:event_type"), (2, "invalid_json")]
    by_file = dict(
        pf.query(
            home,
            "SELECT source_file, reason FROM lakeflow.quarantine "
            "WHERE source_file NOT IN ('a.ndjson', 'k.json', 'l.json')",
        )
    )
    assert by_file == {
        "d.json": "invalid_json_array",
        "f.ndjson": "invalid_utf8",
        "j.ndjson": "invalid_utf8",
        "g[1].ndjson": "unsupported_file_name",
    }


def test_a_batch_too_large_to_hold_its_lines_gives_the_same_landing_records(
    landed, tmp_path, monkeypatch
):
    """Up to engines.duckdb.landing.MATERIALIZE_UP_TO_BYTES the split lines of a batch are held
    (a MATERIALIZED CTE, for parallelism); a larger batch streams them. Every kind of file gives
    the same records either way."""
    import engines.duckdb.landing as duckdb_landing

    def holds_its_lines() -> bool:
        files = sorted(p for p in landed.home.landing.glob("*.ndjson") if p.is_file())
        query = duckdb_landing.records_query(
            [str(p) for p in files], [p.name for p in files], batch_no=1, ingested_at="2025-01-01"
        )
        return "read_split AS MATERIALIZED" in query

    assert holds_its_lines()  # how the `landed` home was read
    monkeypatch.setattr(duckdb_landing, "MATERIALIZE_UP_TO_BYTES", 0)
    assert not holds_its_lines()  # how the home below is read
    home = _home(tmp_path / "streamed")
    _land_every_kind(home)
    run_pipeline(engine_for(home))
    columns = "* EXCLUDE (batch_no, ingested_at)"
    query = f"SELECT {columns} FROM lakeflow.landing_records ORDER BY source_file, record_no"
    streamed, held = pf.query(home, query), pf.query(landed.home, query)
    assert len(held) > sum(landed.records.values())  # the records and a marker per file
    assert streamed == held


def test_bronze_keeps_typed_top_level_fields(landed):
    home = landed.home
    columns = pf.query(
        home,
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = 'lakeflow' AND table_name = 'all_events' ORDER BY ordinal_position",
    )
    assert columns == [
        ("event_id", "VARCHAR"),
        ("event_type", "VARCHAR"),
        ("ts", "TIMESTAMP"),
        ("gk_id", "VARCHAR"),
        ("location", "VARCHAR"),
        ("order_id", "VARCHAR"),
        ("sequence", "INTEGER"),
        ("body", "VARCHAR"),
        ("source_file", "VARCHAR"),
        ("ingested_at", "TIMESTAMP"),
    ]
    created = pf.order_events(ORDERS[0])[0]
    row = pf.query(
        home,
        "SELECT ts, sequence, body FROM lakeflow.all_events WHERE event_id = ?",
        [created["event_id"]],
    )
    assert row == [(ORDERS[0].created, 0, created["body"])]


def test_silver_has_one_row_per_item_of_each_order(landed):
    home = landed.home
    rows = pf.query(
        home,
        "SELECT order_id, item_id, price, qty, extended_price FROM lakeflow.silver_order_items ORDER BY 1, 2",
    )
    expected = sorted(
        (
            o.order_id,
            pf.ITEMS[i][0],
            Decimal(str(pf.ITEMS[i][5])).quantize(Decimal("0.01")),
            q,
            (Decimal(str(pf.ITEMS[i][5])) * q).quantize(Decimal("0.01")),
        )
        for o in ORDERS + DQ_ORDERS[:1]
        for i, q in o.items
    )
    assert rows == expected  # o-dq-2's items were nulled: no silver rows; the orphan has none


def test_gold_order_header(landed):
    home = landed.home
    rows = pf.table(home, "lakeflow.gold_order_header")
    expected = sorted(
        (
            o.order_id,
            o.gk_id,
            o.location,
            o.created.date(),
            Decimal(str(o.revenue())).quantize(Decimal("0.01")),
            sum(q for _, q in o.items),
            len(o.items),
            o.brands(),
        )
        for o in ORDERS + DQ_ORDERS[:1]
    )
    assert rows == expected


def test_gold_revenue_equals_silver_revenue_in_every_gold_table(landed):
    home = landed.home
    silver = pf.scalar(home, "SELECT SUM(extended_price) FROM lakeflow.silver_order_items")
    for table, column in [
        ("lakeflow.gold_order_header", "order_revenue"),
        ("lakeflow.gold_item_sales_day", "gross_revenue"),
        ("lakeflow.gold_brand_sales_day", "brand_revenue"),
        ("lakeflow.gold_location_sales_hourly", "revenue"),
    ]:
        assert pf.scalar(home, f"SELECT SUM({column}) FROM {table}") == silver, table
    assert silver == Decimal(
        str(round(sum(o.revenue() for o in ORDERS + DQ_ORDERS[:1]), 2))
    ).quantize(Decimal("0.01"))


def test_gold_order_counts_are_exact_distinct_counts(landed):
    home = landed.home
    hourly = pf.table(home, "lakeflow.gold_location_sales_hourly")
    expected: dict[tuple, set] = {}
    for o in ORDERS + DQ_ORDERS[:1]:
        hour = o.created.replace(minute=0, second=0, microsecond=0)
        expected.setdefault((o.location, hour), set()).add(o.order_id)
    assert [(loc, hour, n) for loc, hour, n, _ in hourly] == sorted(
        (k[0], k[1], len(v)) for k, v in expected.items()
    )
    brand_day = pf.query(
        home, "SELECT brand_id, day, orders FROM lakeflow.gold_brand_sales_day ORDER BY 1, 2"
    )
    per_brand: dict[tuple, set] = {}
    for o in ORDERS + DQ_ORDERS[:1]:
        for brand in o.brands():
            per_brand.setdefault((brand, o.created.date()), set()).add(o.order_id)
    assert brand_day == sorted((b, d, len(v)) for (b, d), v in per_brand.items())


def test_order_delivery_times(landed):
    home = landed.home
    rows = {
        r[0]: r
        for r in pf.query(
            home,
            "SELECT order_id, created_ts, delivered_ts, delivery_minutes, distance_km, order_revenue, "
            "total_items, customer_lat FROM ai.order_delivery_times",
        )
    }
    assert set(rows) == {o.order_id for o in ORDERS + DQ_ORDERS}  # not the orphan
    for o in ORDERS + DQ_ORDERS:
        _, created, delivered, minutes, km, revenue, items, lat = rows[o.order_id]
        assert created == o.created
        if o.delivered_min is None:
            assert delivered is None and minutes is None
        else:
            assert minutes == pytest.approx(o.delivered_min)
    for o in ORDERS:
        assert rows[o.order_id][4] == pytest.approx(pf.route_length_km(o.route()), rel=1e-9)
        assert rows[o.order_id][6] == len(o.items)
    # DQ: nulled route -> no distance; nulled customer -> NULL; nulled items -> no revenue
    assert rows["o-dq-1"][4] is None and rows["o-dq-1"][7] is None
    assert rows["o-dq-2"][5] is None and rows["o-dq-2"][6] is None


def test_location_timings_match_numpy(landed):
    home = landed.home
    delivered = pf.query(
        home,
        "SELECT location, delivered_ts, delivery_minutes FROM ai.order_delivery_times WHERE delivered_ts IS NOT NULL",
    )
    rows = pf.table(home, "ai.location_timings")
    assert {r[0] for r in rows} == {loc for loc, _, _ in delivered}
    for location, p50, p75, p99, count, start, end in rows:
        mine = [(ts, m) for loc, ts, m in delivered if loc == location]
        newest = max(ts for ts, _ in mine)
        window = [m for ts, m in mine if newest - dt.timedelta(days=1) < ts <= newest]
        assert (start, end, count) == (newest - dt.timedelta(days=1), newest, len(window))
        assert [p50, p75, p99] == pytest.approx(
            list(np.percentile(window, [50, 75, 99])), rel=1e-12
        )


def test_a_rerun_waits_for_a_busy_warehouse_and_ingests_nothing_new(landed):
    """A tick meeting a warehouse another process holds (a `casper sync`) waits for it; a rerun
    without new files ingests nothing. (One test: a tick takes seconds.)"""
    home, records = landed.home, landed.records
    pipeline = Pipeline(engine_for(home))
    try:
        assert pipeline.context  # loaded first: then the tick's first step opens the warehouse
        report = _while_held(home, pipeline.tick)
    finally:
        pipeline.close()
    assert isinstance(report, PipelineReport) and not report.planned, report
    assert (report.files_ingested, report.bronze_rows_added, report.quarantined_added) == (0, 0, 0)
    assert report.bronze_rows_total + report.quarantined_total == sum(records.values())


def test_a_plain_duckdb_client_reads_the_tables_by_schema_name(landed):
    home = landed.home
    script = textwrap.dedent(
        f"""
        import duckdb
        con = duckdb.connect({str(home.warehouse)!r}, read_only=True)
        for name in ["simulator.items", "lakeflow.all_events", "lakeflow.quarantine",
                     "lakeflow.silver_order_items", "lakeflow.gold_order_header",
                     "lakeflow.gold_item_sales_day", "lakeflow.gold_brand_sales_day",
                     "lakeflow.gold_location_sales_hourly", "ai.order_delivery_times",
                     "ai.location_timings"]:
            print(name, con.execute(f"SELECT COUNT(*) FROM {{name}}").fetchone()[0])
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout
    counts = dict(line.rsplit(" ", 1) for line in out.splitlines())
    assert int(counts["lakeflow.gold_order_header"]) == len(ORDERS) + 1
    assert int(counts["simulator.items"]) > 0


def test_seeds_load_the_catalog(landed):
    import csv

    from casper.resources import seeds_dir

    home = landed.home
    for name in ("brands", "menus", "categories", "items"):
        with open(seeds_dir() / f"{name}.csv", newline="") as handle:
            expected = sum(1 for _ in csv.DictReader(handle))
        assert pf.scalar(home, f"SELECT COUNT(*) FROM simulator.{name}") == expected


# -- incremental runs ----------------------------------------------------------------------------------


def test_exactly_once_across_runs_and_files_landing_between_runs(tmp_path):
    home = _home(tmp_path)
    first, second = pf.events_of(ORDERS[:3]), pf.events_of(ORDERS[3:])
    pf.land_ndjson(home.landing, "001.ndjson", first)
    pipeline = Pipeline(engine_for(home))
    try:
        r1 = pipeline.tick()
        assert (r1.files_ingested, r1.bronze_rows_added, r1.planned) == (1, len(first), True)
        r2 = pipeline.tick()  # nothing new: returns without running a model
        assert (r2.files_ingested, r2.bronze_rows_added, r2.planned) == (0, 0, False)
        assert (r2.models_evaluated, r2.bronze_rows_total) == (0, len(first))
        pf.land_ndjson(home.landing, "002.ndjson", second)
        r3 = pipeline.tick()
        assert (r3.files_ingested, r3.bronze_rows_added) == (1, len(second))
    finally:
        pipeline.close()
    # a file re-appearing under a name already ingested is not read again (by a new process either)
    pf.land_ndjson(home.landing, "001.ndjson", first + first)
    r4 = run_pipeline(engine_for(home))
    assert (r4.files_ingested, r4.bronze_rows_added) == (0, 0)
    assert (r4.bronze_rows_total, r4.models_evaluated > 0) == (len(first) + len(second), True)
    assert pf.scalar(home, "SELECT COUNT(*) FROM lakeflow.gold_order_header") == len(ORDERS)
    batches = pf.query(
        home,
        "SELECT source_file, COUNT(DISTINCT batch_no) FROM lakeflow.landing_records GROUP BY 1",
    )
    assert sorted(batches) == [("001.ndjson", 1), ("002.ndjson", 1)]


def test_a_tick_failing_after_ingest_is_completed_by_the_next_without_reingesting(
    tmp_path, monkeypatch
):
    from sqlmesh.core.snapshot.evaluator import SnapshotEvaluator

    from casper.pipeline import PipelineError

    home = _home(tmp_path)
    pf.land_ndjson(home.landing, "001.ndjson", pf.events_of(ORDERS[:2]))
    pipeline = Pipeline(engine_for(home))
    try:
        pipeline.tick()
        evaluate = SnapshotEvaluator.evaluate

        def failing(self, snapshot, *args, **kwargs):
            if snapshot.name.endswith('"silver_orders"'):
                raise RuntimeError("disk full, say")
            return evaluate(self, snapshot, *args, **kwargs)

        monkeypatch.setattr(SnapshotEvaluator, "evaluate", failing)
        pf.land_ndjson(home.landing, "002.ndjson", pf.events_of(ORDERS[2:4]))
        with pytest.raises(PipelineError, match="disk full"):
            pipeline.tick()
        # the new file is in bronze already, silver and what follows are not rebuilt yet
        assert pf.scalar(home, "SELECT COUNT(*) FROM lakeflow.ingested_files") == 2
        assert pf.scalar(home, "SELECT COUNT(*) FROM lakeflow.gold_order_header") == 2
        monkeypatch.setattr(SnapshotEvaluator, "evaluate", evaluate)
        report = pipeline.tick()  # no new file, but the last tick failed: run again
    finally:
        pipeline.close()
    assert (report.files_ingested, report.models_evaluated > 0) == (0, True)
    assert pf.scalar(home, "SELECT COUNT(*) FROM lakeflow.gold_order_header") == 4
    assert pf.scalar(home, "SELECT COUNT(*) FROM lakeflow.all_events") == len(
        pf.events_of(ORDERS[:4])
    )


DERIVED_TABLES = (
    "lakeflow.silver_orders",
    "lakeflow.silver_order_items",
    "lakeflow.gold_order_header",
    "lakeflow.gold_item_sales_day",
    "lakeflow.gold_brand_sales_day",
    "lakeflow.gold_location_sales_hourly",
    "ai.order_delivery_times",
    "ai.location_timings",
)


def _arrivals(seed: int, chunks: int) -> list[list[dict]]:
    """Events of 40 orders over two days as a live stream lands them: `chunks` files by event time,
    some step events landing one file before their order's order_created, some events landing again
    in a later file (at-least-once delivery); then two files that each change one kind of thing
    only: late deliveries of orders counted long ago, and the late order_created of two orders whose
    other events all landed already."""
    rng = np.random.default_rng(seed)
    start = dt.datetime(2025, 3, 3, 10, 0)
    orders = [*ORDERS, *DQ_ORDERS]
    for n in range(32):
        orders.append(
            pf.OrderSpec(
                f"r-{n}",
                start + dt.timedelta(minutes=float(rng.uniform(0, 2 * 24 * 60))),
                location=("sanfrancisco", "chicago")[n % 2],
                items=tuple((int(rng.integers(0, 7)), int(rng.integers(1, 4))) for _ in range(3)),
                delivered_min=None if n % 7 == 0 else float(rng.uniform(25, 70)),
            )
        )
    late_created = {"r-3", "r-4"}
    late_steps = {"r-1", "r-2", "r-5", "o-1"}

    def held_back(event: dict) -> bool:
        return (event["event_type"] == "order_created" and event["order_id"] in late_created) or (
            event["event_type"] == "delivered" and event["order_id"] in late_steps
        )

    events = sorted(pf.events_of(orders), key=lambda e: e["ts"])
    stream = [e for e in events if not held_back(e)]
    bounds = np.linspace(0, len(stream), chunks + 1).astype(int)
    files = [stream[bounds[i] : bounds[i + 1]] for i in range(chunks)]
    for i in range(1, chunks):
        early = [e for e in files[i] if e["event_type"] != "order_created" and rng.random() < 0.1]
        files[i - 1].extend(early)  # landed before their order's order_created may have
        files[i] = [e for e in files[i] if e not in early]
        files[i].extend(e for e in files[i - 1] if rng.random() < 0.05)  # landed again
    late = [e for e in events if held_back(e)]
    files.append([e for e in late if e["event_type"] == "delivered"])
    files.append([e for e in late if e["event_type"] == "order_created"])
    return files


def test_ticks_as_files_land_give_the_tables_of_one_build_from_scratch(tmp_path):
    live = _home(tmp_path / "live")
    pipeline = Pipeline(engine_for(live))
    reports = []
    try:
        for i, events in enumerate(_arrivals(seed=5, chunks=5)):
            pf.land_ndjson(live.landing, f"{i:03d}.ndjson", events)
            reports.append(pipeline.tick())
            assert reports[-1].files_ingested == 1
    finally:
        pipeline.close()
    # the file of late deliveries holds no order_created: silver had nothing new to take in
    assert reports[-2].models_skipped >= 2 and reports[-2].models_evaluated >= 5
    rebuilt = _home(tmp_path / "rebuilt")
    for path in sorted(live.landing.iterdir()):
        pf.land_bytes(rebuilt.landing, path.name, path.read_bytes())
    assert run_pipeline(engine_for(rebuilt)).files_ingested == 7
    # the live tables were built a file at a time: orders counted and updated in different ticks
    assert pf.scalar(live, "SELECT COUNT(DISTINCT batch_no) FROM lakeflow.silver_orders") == 6
    assert pf.scalar(live, "SELECT COUNT(DISTINCT batch_no) FROM ai.order_delivery_times") >= 5
    for name in DERIVED_TABLES:
        assert pf.table(live, name), f"{name} is empty: the comparison would be vacuous"
        assert pf.table(live, name) == pf.table(rebuilt, name), name


def test_a_query_served_from_its_tick_template_is_the_query_sqlmesh_renders(tmp_path, monkeypatch):
    """casper.tick_templates: every model and audit query a tick takes from its template (with
    the watermarks of that tick filled in) is exactly what SQLMesh renders for the same call, and
    ticks do take them from templates (only the landing model's query, whose file list changes,
    is rendered afresh each tick)."""
    from casper.tick_templates import TickTemplates

    served: list[tuple[str, str | None]] = []
    rendered_afresh: list[str] = []
    serve = TickTemplates.render

    def checked(self, render, model, audit, kwargs):
        reused = self.reused
        query = serve(self, render, model, audit, kwargs)
        if self.reused == reused:
            rendered_afresh.append(model.name)
            return query
        expected = render(**kwargs)  # SQLMesh's own render of the same call
        assert query.sql(dialect=model.dialect) == expected.sql(dialect=model.dialect), model.name
        served.append((model.name, getattr(audit, "name", None)))
        return query

    monkeypatch.setattr(TickTemplates, "render", checked)
    home = _home(tmp_path)
    pipeline = Pipeline(engine_for(home))
    try:
        for i, events in enumerate(_arrivals(seed=7, chunks=4)):
            pf.land_ndjson(home.landing, f"{i:03d}.ndjson", events)
            assert pipeline.tick().files_ingested == 1
    finally:
        pipeline.close()
    names = {name for name, _ in served}
    assert {"lakeflow.stg_order_created", "lakeflow.silver_orders"} <= names
    assert any(audit == "contract" for _, audit in served)
    assert any(audit is None for _, audit in served)
    # the landing model's audit is a template, its query never is
    assert ("lakeflow.landing_records", "landing_batch") in served
    assert ("lakeflow.landing_records", None) not in served
    assert "lakeflow.landing_records" in rendered_afresh
    # the watermarks filled in moved with each tick: staging took in every batch with step events
    # (all files but the last, which brings late order_created events only) and nothing twice
    assert pf.scalar(home, "SELECT COUNT(DISTINCT batch_no) FROM lakeflow.stg_order_steps") == 5
    assert not pf.scalar(
        home,
        "SELECT COUNT(*) FROM (SELECT order_id, batch_no FROM lakeflow.stg_order_steps"
        " GROUP BY ALL HAVING COUNT(*) > 1)",
    )


def test_a_tick_records_the_intervals_of_the_models_it_ran_in_one_write_when_it_ends(tmp_path):
    """SQLMesh's state learns what a tick's run processed when the run is over, in one write
    (casper.pipeline._RunIntervals): afterwards every model the tick evaluated has an interval
    reaching into the tick, and its incremental models none that the state lacked before."""
    home = _home(tmp_path)
    pf.land_ndjson(home.landing, "001.ndjson", pf.events_of(ORDERS[:3]))
    pipeline = Pipeline(engine_for(home))
    try:
        pipeline.tick()  # the first build (a plan)
        pf.land_ndjson(home.landing, "002.ndjson", pf.events_of(ORDERS[3:6]))
        state = pipeline._tick_scheduler().state_sync
        writes: list[int] = []
        write = state._state_sync.add_snapshots_intervals

        def counted(given) -> None:
            writes.append(len(given))
            write(given)

        state._state_sync.add_snapshots_intervals = counted
        started_ms = int(time.time() * 1000)
        report = pipeline.tick()
        assert report.files_ingested == 1 and report.models_evaluated >= 6
        # one write of an interval per model run (the run's restatements, none here, pass through)
        assert [count for count in writes if count] == [report.models_evaluated]
        context = pipeline.context
        for name in (
            "lakeflow.landing_records",
            "lakeflow.silver_orders",
            "ai.order_delivery_times",
        ):
            snapshot_id = context.get_snapshot(name).snapshot_id
            [held] = context.state_reader.get_snapshots([snapshot_id]).values()
            assert max(end for _, end in held.intervals) >= started_ms, name
    finally:
        pipeline.close()


def test_a_first_build_records_its_backfill_intervals_together_when_each_run_ends(
    tmp_path, monkeypatch
):
    """The plan's backfill, like a tick, hands SQLMesh's state the intervals of the models a run
    evaluated in one write once that run is over, and the state then holds an interval for each."""
    home = _home(tmp_path)
    pf.land_ndjson(home.landing, "001.ndjson", pf.events_of(ORDERS[:3]))
    pipeline = Pipeline(engine_for(home))
    try:
        state = pipeline.context.state_sync
        writes: list[list[str]] = []
        write = state.add_snapshots_intervals

        def counted(given) -> None:
            writes.append([interval.name for interval in given])
            write(given)

        monkeypatch.setattr(state, "add_snapshots_intervals", counted)
        report = pipeline.tick()
        assert report.planned and report.models_evaluated >= 10
        # one write per backfill run (the plan runs the simulator's tables, then the rest), each
        # of several models' intervals, together every model it evaluated once
        writes = [names for names in writes if names]
        assert all(len(names) > 1 for names in writes)
        written = [name for names in writes for name in names]
        assert len(written) == len(set(written)) == report.models_evaluated
        context = pipeline.context
        for name in written:
            [held] = context.state_reader.get_snapshots(
                [context.get_snapshot(name).snapshot_id]
            ).values()
            assert held.intervals, name
    finally:
        pipeline.close()


def test_a_first_build_plans_without_sqlmesh_reading_the_call_stack(tmp_path, monkeypatch):
    """SQLMesh's analytics wrapper around Context.plan and plan_builder calls inspect.stack()
    (it reads the source of every frame) even with analytics disabled. A first build plans and
    builds without any such call; calling the wrapped plan_builder makes one, so the check can
    fail."""
    home = _home(tmp_path)
    pf.land_ndjson(home.landing, "001.ndjson", pf.events_of(ORDERS[:3]))
    pipeline = Pipeline(engine_for(home))
    walks: list[int] = []
    stack = inspect.stack
    monkeypatch.setattr(inspect, "stack", lambda *a, **k: walks.append(1) or stack(*a, **k))
    try:
        report = pipeline.tick()
        assert report.planned and report.bronze_rows_added == len(pf.events_of(ORDERS[:3]))
        assert walks == []
        pipeline.context.plan_builder("prod")
        assert walks
    finally:
        pipeline.close()


def test_full_collections_wait_while_a_tick_runs_and_the_collector_is_restored_after(
    tmp_path, monkeypatch
):
    """A full collection walks SQLMesh, the project and the libraries: none starts by itself
    while a tick runs (as it loads the project, plans and runs, each reported as progress), and
    the collector's thresholds are as before once it is over, whether it succeeded or failed."""
    home = _home(tmp_path)
    pf.land_ndjson(home.landing, "001.ndjson", pf.events_of(ORDERS[:3]))
    before = gc.get_threshold()
    during: list[int] = []
    pipeline = Pipeline(
        engine_for(home), on_progress=lambda _: during.append(gc.get_threshold()[2])
    )
    try:
        assert pipeline.tick().planned
        assert len(during) > 3 and set(during) == {NO_AUTOMATIC_FULL_COLLECTION}
        assert gc.get_threshold() == before
        pf.land_ndjson(home.landing, "002.ndjson", pf.events_of(ORDERS[3:4]))
        from sqlmesh.core.snapshot.evaluator import SnapshotEvaluator

        from casper.pipeline import PipelineError

        def failing(self, snapshot, *args, **kwargs):
            raise RuntimeError("disk full, say")

        monkeypatch.setattr(SnapshotEvaluator, "evaluate", failing)
        with pytest.raises(PipelineError, match="disk full"):
            pipeline.tick()
        assert gc.get_threshold() == before
    finally:
        pipeline.close()


def test_a_one_shot_pipeline_defers_full_collections_from_importing_sqlmesh_to_closing(
    tmp_path, monkeypatch
):
    """`run_pipeline` (`casper pipeline`) makes its Pipeline, which imports SQLMesh, ticks and
    closes with no full collection starting by itself: each would walk everything SQLMesh
    loaded, and once the tick is done the process is too. The thresholds are restored after."""
    import casper.pipeline as pipeline_module

    home = _home(tmp_path)
    pf.land_ndjson(home.landing, "001.ndjson", pf.events_of(ORDERS[:2]))
    before = gc.get_threshold()
    seen: dict[str, int] = {}
    make_console = pipeline_module._console

    def console(*args, **kwargs):
        seen["importing sqlmesh"] = gc.get_threshold()[2]
        return make_console(*args, **kwargs)

    close = Pipeline.close

    def closing(self) -> None:
        seen["closing"] = gc.get_threshold()[2]
        close(self)

    monkeypatch.setattr(pipeline_module, "_console", console)
    monkeypatch.setattr(Pipeline, "close", closing)
    assert run_pipeline(engine_for(home)).files_ingested == 1
    assert seen == {
        "importing sqlmesh": NO_AUTOMATIC_FULL_COLLECTION,
        "closing": NO_AUTOMATIC_FULL_COLLECTION,
    }
    assert gc.get_threshold() == before
    # a Pipeline kept for a watch defers them while it imports SQLMesh too
    seen.clear()
    Pipeline(engine_for(home)).close()
    assert seen["importing sqlmesh"] == NO_AUTOMATIC_FULL_COLLECTION
    assert gc.get_threshold() == before


FRESH_PIPELINE = textwrap.dedent(
    """
    import contextlib, gc, sys
    import casper.pipeline
    from casper.engine import open_engine
    from casper.settings import Settings

    if sys.argv[2] == "without the deferral":
        casper.pipeline.full_collections_deferred = contextlib.nullcontext
    engine = open_engine(Settings.load(home=sys.argv[1], engine="duckdb"))
    assert "sqlmesh" not in sys.modules
    started = []
    gc.callbacks.append(
        lambda phase, info: started.append(1) if phase == "start" and info["generation"] == 2 else None
    )
    pipeline = casper.pipeline.Pipeline(engine)
    gc.callbacks.clear()
    assert "sqlmesh" in sys.modules
    pipeline.close()
    print(len(started))
    """
)


def test_a_pipeline_made_in_a_fresh_process_imports_sqlmesh_with_no_full_collection(tmp_path):
    """In a new interpreter (where SQLMesh is not imported yet), making a Pipeline imports
    SQLMesh and no full collection starts meanwhile. The same without the deferral starts some:
    the check can fail, whichever part of Pipeline's construction comes to import SQLMesh."""

    def full_collections(mode: str) -> int:
        done = subprocess.run(
            [sys.executable, "-c", FRESH_PIPELINE, str(tmp_path / mode), mode],
            capture_output=True, text=True, check=True, timeout=120,
        )  # fmt: skip
        return int(done.stdout.split()[-1])

    assert full_collections("without the deferral") > 0
    assert full_collections("as shipped") == 0


def test_sqlmesh_parse_cache_defaults_to_one_folder_in_the_users_cache(tmp_path, monkeypatch):
    """Every home shares the user's cache folder unless CASPER_SQLMESH_CACHE names another; when
    the user's cache cannot be written the home keeps its own."""
    monkeypatch.delenv("CASPER_SQLMESH_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    home = tmp_path / "home"
    shared = Settings.load(home=home).sqlmesh_cache_dir
    assert shared == tmp_path / "xdg" / "casper" / "sqlmesh" and shared.is_dir()
    monkeypatch.setenv("CASPER_SQLMESH_CACHE", str(tmp_path / "mine"))
    assert Settings.load(home=home).sqlmesh_cache_dir == tmp_path / "mine"
    (tmp_path / "notes.txt").write_text("")
    monkeypatch.setenv("CASPER_SQLMESH_CACHE", str(tmp_path / "notes.txt"))
    with pytest.raises(
        SettingsError, match=r"sqlmesh_cache \(from \$CASPER_SQLMESH_CACHE\).*is a file"
    ):
        Settings.load(home=home)
    monkeypatch.delenv("CASPER_SQLMESH_CACHE")
    (tmp_path / "a-file").write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "a-file"))
    assert Settings.load(home=home).sqlmesh_cache_dir == home / "sqlmesh" / "cache"


def test_a_new_home_reuses_the_queries_an_earlier_home_rendered_into_the_shared_cache(
    tmp_path, monkeypatch
):
    """SQLMesh keys a parsed model by the whole config (which names the home's warehouse), but a
    rendered query by the model alone: a second home renders afresh only the models that read
    its own files (the landing folder, its catalog) and reuses every other model's query."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("CASPER_SQLMESH_CACHE", str(cache))

    def rendered() -> set[str]:
        return {path.name for path in (cache / "optimized_query").iterdir()}

    for name in ("first", "second"):
        pipeline = Pipeline(engine_for(_home(tmp_path / name)))
        try:
            assert pipeline.context.models
        finally:
            pipeline.close()
        if name == "first":
            first = rendered()
    afresh = rendered() - first
    assert afresh and all("landing_records" in n or "_simulator_" in n for n in afresh)
    reused = [n for n in first if "lakeflow_s" in n or "_ai_" in n]  # staging, silver, ai
    assert len(reused) >= 8


def test_a_tick_audits_the_rows_it_added_against_the_whole_table(tmp_path):
    """The contract audit of an incremental model checks the rows above the watermark its
    evaluation used; one of them repeating an order counted long before still breaks the grain."""
    from casper.watermarks import record_watermark

    home = _home(tmp_path)
    pf.land_ndjson(home.landing, "001.ndjson", pf.events_of(ORDERS[:3]))
    pipeline = Pipeline(engine_for(home))
    try:
        pipeline.tick()
        context = pipeline.context
        table = context.get_snapshot("lakeflow.silver_orders").table_name()
        adapter = context.engine_adapter
        newest = adapter.fetchone(f"SELECT MAX(batch_no) FROM {table}")[0]
        assert context.audit(start=MODELS_START, end="now", models=["lakeflow.silver_orders"])
        adapter.execute(
            f"INSERT INTO {table} SELECT * REPLACE ({newest} + 1 AS batch_no) FROM {table} LIMIT 1"
        )
        record_watermark(table, newest)  # as the evaluation that added that row would have
        assert not context.audit(start=MODELS_START, end="now", models=["lakeflow.silver_orders"])
    finally:
        pipeline.close()


def test_an_order_created_landing_after_the_order_was_counted_changes_nothing(tmp_path):
    """The first order_created to land counts; a later, conflicting one (another event_id, an
    earlier time, another basket) stays in bronze only, so published numbers do not move."""
    home = _home(tmp_path)
    order = ORDERS[0]
    pf.land_ndjson(home.landing, "001.ndjson", pf.order_events(order))
    run_pipeline(engine_for(home))
    before = {name: pf.table(home, name) for name in DERIVED_TABLES}
    conflicting = dataclasses.replace(
        order, created=order.created - dt.timedelta(days=1), items=((5, 9),)
    )
    created = pf.order_events(conflicting)[0]
    pf.land_ndjson(home.landing, "002.ndjson", [{**created, "event_id": "other-event"}])
    assert run_pipeline(engine_for(home)).bronze_rows_added == 1
    assert {name: pf.table(home, name) for name in DERIVED_TABLES} == before


@pytest.mark.parametrize(
    "model", ["landing_records", "stg_order_created", "silver_orders", "order_delivery_times"]
)
def test_a_first_build_failing_after_a_model_wrote_is_completed_by_the_next_tick(
    tmp_path, monkeypatch, model
):
    """SQLMesh replaces a table while it has no recorded interval. When the first build of an
    append-only model writes its rows and then fails (here: its audit), the next tick replaces
    the table again: that replacement must hold everything, not just what is newer than the rows
    the failed attempt left behind."""
    from sqlmesh.core.scheduler import Scheduler

    from casper.pipeline import PipelineError

    home = _home(tmp_path)
    pf.land_ndjson(home.landing, "001.ndjson", pf.events_of(ORDERS[:3]))
    audit = Scheduler._audit_snapshot

    def failing(self, snapshot, *args, **kwargs):
        if snapshot.name.endswith(f'"{model}"'):
            raise RuntimeError("audit failed, say")
        return audit(self, snapshot, *args, **kwargs)

    pipeline = Pipeline(engine_for(home))
    try:
        monkeypatch.setattr(Scheduler, "_audit_snapshot", failing)
        with pytest.raises(PipelineError, match="audit failed"):
            pipeline.tick()
        monkeypatch.setattr(Scheduler, "_audit_snapshot", audit)
        pf.land_ndjson(home.landing, "002.ndjson", pf.events_of(ORDERS[3:]))
        pipeline.tick()
    finally:
        pipeline.close()
    assert pf.scalar(home, "SELECT COUNT(*) FROM lakeflow.all_events") == len(pf.events_of(ORDERS))
    assert pf.scalar(home, "SELECT COUNT(*) FROM lakeflow.silver_orders") == len(ORDERS)
    assert pf.scalar(home, "SELECT COUNT(*) FROM ai.order_delivery_times") == len(ORDERS)
    assert pf.scalar(home, "SELECT COUNT(*) FROM lakeflow.gold_order_header") == len(ORDERS)


def test_a_relanded_event_is_in_bronze_twice_but_counts_once(tmp_path):
    home = _home(tmp_path)
    events = pf.events_of(ORDERS[:2])
    pf.land_ndjson(home.landing, "001.ndjson", events)
    run_pipeline(engine_for(home))
    gold_before = pf.table(home, "lakeflow.gold_order_header")
    silver_before = pf.table(home, "lakeflow.silver_order_items")
    times_before = pf.table(home, "ai.order_delivery_times")
    # the whole of o-1 lands again in a new file (at-least-once delivery upstream)
    again = [e for e in events if e["order_id"] == "o-1"]
    pf.land_ndjson(home.landing, "002.ndjson", again)
    report = run_pipeline(engine_for(home))
    assert report.bronze_rows_added == len(again)
    assert pf.scalar(home, "SELECT COUNT(*) FROM lakeflow.all_events") == len(events) + len(again)
    assert pf.table(home, "lakeflow.silver_order_items") == silver_before
    assert pf.table(home, "lakeflow.gold_order_header") == gold_before
    assert pf.table(home, "ai.order_delivery_times") == times_before


def test_watch_processes_new_files_until_stopped(tmp_path):
    home = _home(tmp_path)
    pf.land_ndjson(home.landing, "001.ndjson", pf.events_of(ORDERS[:1]))
    reports: list[PipelineReport] = []
    errors: list[BaseException] = []
    stop = threading.Event()
    frozen_at_tick: list[bool] = []  # whether the collector was frozen as each tick reported

    def on_tick(report: PipelineReport) -> None:
        frozen_at_tick.append(gc.get_freeze_count() > 0)
        reports.append(report)

    assert gc.get_freeze_count() == 0
    watcher = threading.Thread(
        target=watch_pipeline,
        args=(engine_for(home), 1.0, stop),
        kwargs={"on_tick": on_tick, "on_error": errors.append},
    )
    watcher.start()
    try:
        deadline = time.monotonic() + 90
        while not reports and time.monotonic() < deadline:
            time.sleep(0.02)
        pf.land_ndjson(home.landing, "002.ndjson", pf.events_of(ORDERS[1:2]))
        while sum(r.files_ingested for r in reports) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        stop.set()
        watcher.join(timeout=90)
    assert not watcher.is_alive() and not errors
    assert sum(r.files_ingested for r in reports) == 2
    assert [r.planned for r in reports][:1] == [True] and not any(r.planned for r in reports[1:])
    # what the first tick loaded is frozen after it, for the rest of the watch, and no longer
    assert frozen_at_tick[0] is False and all(frozen_at_tick[1:]) and len(frozen_at_tick) >= 2
    assert gc.get_freeze_count() == 0
    # nothing holds the warehouse once the watch is over (and between its ticks)
    assert warehouse_counts(home)["orders"] == 2


def test_the_first_run_builds_and_reports_progress(landed):
    report = landed.report
    assert report.planned and report.files_ingested == len(landed.records)
    assert report.bronze_rows_added + report.quarantined_added == sum(landed.records.values())
    assert report.models_evaluated > 10 and report.audits_passed > 10 and report.audits_failed == 0
    assert any("gold_order_header" in line and "audits" in line for line in landed.progress)


#: what the hostile-files fixture lands that no reader reads (not the writer's temporary)
IGNORED = ("i.NDJSON", "m.ndjson/", "notes.txt")
IGNORED_NOTE = (
    "i.NDJSON, m.ndjson/, notes.txt are not landing files: names end in .ndjson, .jsonl or .json "
    "(exact case); folders are not read"
)


def test_status_and_the_pipeline_name_what_in_the_landing_folder_is_not_read(landed, monkeypatch):
    assert landed.report.ignored_files == IGNORED
    notes: list[str] = []
    status = collect_status(engine_for(landed.home), notes)
    assert status["ignored_files"] == len(IGNORED)
    assert list(status)[:5] == [
        "home",
        "landed_events",
        "newest_event_ts",
        "landed_files",
        "ignored_files",
    ]
    assert notes == [IGNORED_NOTE]
    table = casper_in_process(landed.home.root, "status", monkeypatch=monkeypatch)
    assert table.returncode == 0, table.stderr
    assert "other entries, not read" in table.stdout
    assert " ".join(table.stdout.split()).count(IGNORED_NOTE) == 1
    as_json = casper_in_process(landed.home.root, "status", "--json", monkeypatch=monkeypatch)
    assert json.loads(as_json.stdout)["ignored_files"] == len(IGNORED)
    assert f"note: {IGNORED_NOTE}" in " ".join(as_json.stderr.split())
    # `casper pipeline` notes them once, and runs as ever (nothing new to ingest)
    run = casper_in_process(landed.home.root, "pipeline", monkeypatch=monkeypatch)
    assert run.returncode == 0, run.stderr
    assert "pipeline (duckdb): 0 new files" in run.stdout
    assert " ".join(run.stderr.split()).count(f"note: {IGNORED_NOTE}") == 1


# -- reading the warehouse while it is missing or busy -----------------------------------------------


COUNT_KEYS = (
    "bronze_events",
    "quarantined",
    "quarantined_invalid_json",
    "duplicate_events",
    "late_events",
    "orders",
    "delivered_orders",
    "recommendations",
)


def warehouse_counts(home: CasperHome, wait_seconds: float = 1.0) -> dict[str, int | None]:
    return engine_for(home).warehouse().counts(wait_seconds=wait_seconds)


def test_warehouse_counts_without_a_warehouse(tmp_path):
    assert warehouse_counts(CasperHome(tmp_path)) == dict.fromkeys(COUNT_KEYS, 0)
    assert not CasperHome(tmp_path).warehouse.exists()  # asking created nothing


def _warehouse_holder(home: CasperHome) -> subprocess.Popen:
    """A process holding warehouse.duckdb open read-write until its stdin closes."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, sys, time; c = duckdb.connect({str(home.warehouse)!r}); "
            "print('locked', flush=True); sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "locked"
    return holder


def test_warehouse_counts_when_another_process_holds_the_lock(landed):
    home = landed.home
    holder = _warehouse_holder(home)
    try:
        assert warehouse_counts(home, wait_seconds=0.1) == dict.fromkeys(COUNT_KEYS)
    finally:
        holder.communicate("")
    assert warehouse_counts(home)["bronze_events"] > 0


def _in_thread(work: Callable[[], object]) -> tuple[threading.Thread, list[object]]:
    """Run `work` on a thread; the list receives its result or the exception it raised."""
    outcome: list[object] = []

    def body() -> None:
        try:
            outcome.append(work())
        except Exception as error:
            outcome.append(error)

    thread = threading.Thread(target=body)
    thread.start()
    return thread, outcome


def _sync(engine: Engine, store_home: CasperHome) -> SyncReport:
    with open_store(store_home) as store:
        return sync_to_store(engine, store)


def _while_held(home: CasperHome, work: Callable[[], object]) -> object:
    """Start `work` while another process holds the warehouse; it must still be waiting half a
    second later, when the other process lets go; then its result."""
    holder = _warehouse_holder(home)
    try:
        working, outcome = _in_thread(work)
        time.sleep(0.5)
        assert working.is_alive(), outcome  # waiting, not failed
    finally:
        holder.communicate("", timeout=10)
    working.join(timeout=60)
    [result] = outcome
    return result


def test_a_sync_waits_for_another_process_holding_the_warehouse(landed, tmp_path):
    synced = _while_held(landed.home, lambda: _sync(engine_for(landed.home), CasperHome(tmp_path)))
    assert synced == SyncReport(upserted=0, unchanged=0)  # nothing is scored in this home


def test_a_tick_or_a_sync_meeting_a_warehouse_busy_for_too_long_fails_in_one_line(landed, tmp_path):
    home = landed.home
    impatient = open_engine(Settings.load(home=home.root, warehouse_wait_seconds=0.2))
    before = warehouse_counts(home)
    holder = _warehouse_holder(home)
    try:
        with pytest.raises(WarehouseBusyError) as tick:
            run_pipeline(impatient)
        with pytest.raises(WarehouseBusyError) as sync:
            _sync(impatient, CasperHome(tmp_path))
    finally:
        holder.communicate("", timeout=10)
    busy = f"the warehouse {home.warehouse} is busy: another process (pid {holder.pid}) held it"
    for error in (tick.value, sync.value):
        assert str(error).startswith(busy) and "\n" not in str(error), str(error)
    assert warehouse_counts(home) == before  # nothing lost, nothing half done


def test_json_array_landing_files_are_read_element_by_element(landed):
    home = landed.home
    events = pf.events_of(ORDERS[4:])
    rows = pf.query(
        home,
        "SELECT record_no, event_id FROM lakeflow.landing_records "
        "WHERE source_file = 'b.json' AND record_no > 0 ORDER BY 1",
    )
    assert rows == [(i + 1, e["event_id"]) for i, e in enumerate(events)]


# -- one tick at a time per home ---------------------------------------------------------------------

#: takes the home's pipeline lock, then starts a fork-based worker pool as SQLMesh does mid-tick
#: (sqlmesh.utils.process.create_process_pool_executor: a ProcessPoolExecutor on the "fork"
#: context), prints its PID and the workers', and waits to be killed
HOLD_LOCK_WITH_FORKED_WORKERS = textwrap.dedent(
    """
    import multiprocessing, os, sys, time
    from concurrent.futures import ProcessPoolExecutor
    from pathlib import Path
    from casper.home import CasperHome
    from casper.pipeline import _home_lock

    def worker_pid(_):
        time.sleep(0.2)  # long enough for each worker to take a task
        return os.getpid()

    with _home_lock(CasperHome(Path(sys.argv[1])), 1.0):
        pool = ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("fork"))
        workers = sorted(set(pool.map(worker_pid, range(4))))
        print("holding", os.getpid(), *workers, flush=True)
        sys.stdin.read()
    """
)


def _lock_holder(home: CasperHome) -> tuple[subprocess.Popen, list[int]]:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK_WITH_FORKED_WORKERS, str(home.root)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    line = holder.stdout.readline().split()
    assert line[:2] == ["holding", str(holder.pid)], line
    return holder, [int(pid) for pid in line[2:]]


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_the_pipeline_lock_dies_with_a_killed_holder_not_with_its_forked_workers(tmp_path):
    from casper.pipeline import LOCK_TIMEOUT_S, _home_lock

    home = _home(tmp_path)
    holder, workers = _lock_holder(home)
    try:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
        # the workers outlive the kill -9 of their parent (they still have its open files)
        assert len(workers) == 2 and all(_running(pid) for pid in workers)
        started = time.monotonic()
        with _home_lock(home, timeout_s=1.0):
            pass
        assert time.monotonic() - started < 0.5 < LOCK_TIMEOUT_S
    finally:
        holder.kill()
        holder.wait(timeout=10)
        for pid in workers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def test_a_busy_pipeline_lock_names_its_holder(tmp_path):
    from casper.pipeline import PipelineBusy, _home_lock

    home = _home(tmp_path)
    holder, workers = _lock_holder(home)
    try:
        with pytest.raises(PipelineBusy) as busy, _home_lock(home, timeout_s=0.2):
            pass
        assert str(busy.value) == f"another pipeline is running on {home.root} (pid {holder.pid})"
        # a PID that runs nowhere here (say the home is shared with a container) is told as such
        gone = subprocess.Popen(["true"])
        gone.wait(timeout=10)
        (home.root / "sqlmesh" / "pipeline.lock").write_text(f"{gone.pid}\n")
        named_but_gone = f"but pid {gone.pid} it names is not running"
        with pytest.raises(PipelineBusy, match=named_but_gone), _home_lock(home, timeout_s=0.2):
            pass
    finally:
        holder.communicate("", timeout=10)
        for pid in workers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
