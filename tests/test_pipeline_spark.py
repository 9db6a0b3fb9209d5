"""Parity: the same models on local Spark (parquet tables) and on DuckDB give the same tables."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import shutil

import polars as pl
import pytest

from casper.catalog import home as home_catalog
from casper.home import CasperHome
from casper.pipeline import run_pipeline
from tests import pipeline_fixtures as pf
from tests import reference_fixtures as rf
from tests.engine_helpers import engine_for

pytestmark = [pytest.mark.slow, pytest.mark.spark]


COMPARED = {
    # table: columns that hold floating point numbers (compared with a relative tolerance)
    "lakeflow.silver_orders": {"customer_lat", "customer_lon"},
    "lakeflow.silver_order_items": set(),
    "lakeflow.gold_order_header": set(),
    "lakeflow.gold_item_sales_day": set(),
    "lakeflow.gold_brand_sales_day": set(),
    "lakeflow.gold_location_sales_hourly": set(),
    "ai.order_delivery_times": {"delivery_minutes", "distance_km", "customer_lat", "customer_lon"},
    "ai.location_timings": {"p50", "p75", "p99"},
}
#: the simulator tables the parity home holds (its catalog has the reference's locations)
SIMULATOR = {
    "simulator.items": {"price"},
    "simulator.locations": {"lat", "lon", "growth_rate_daily"},
}


def _land_parity_data(home: CasperHome) -> None:
    """Generated orders over 3 NDJSON files and a JSON array, re-landed events, DQ nulls, bad lines,
    and hostile files: a truncated array, a glob in a name, latin-1 text, byte-order marks."""
    pf.bulk_landing(home.landing, orders=240, files=3, seed=11, days=3, route_points=(5, 30))
    orders = pf.standard_orders()
    pf.land_json_array(home.landing, "batch.json", pf.events_of(orders))
    dq = pf.OrderSpec(
        "o-dq",
        dt.datetime(2025, 1, 2, 12, 0),
        items=((1, 2), (3, 1)),
        body_nulls={"order_created": ("customer_lat",), "driver_picked_up": ("route_points",)},
    )
    relanded = [
        e for e in pf.events_of(orders[:2]) if e["event_type"] in ("order_created", "delivered")
    ]
    pf.land_ndjson(
        home.landing,
        "mixed.ndjson",
        [*pf.order_events(dq), *relanded, *(line for line, _ in pf.bad_lines())],
    )
    pf.land_bytes(home.landing, "cut.json", b'[{"event_id": "x", ')
    pf.land_ndjson(home.landing, "odd[1].ndjson", pf.events_of(orders[:1]))
    # latin-1, not UTF-8: one quarantined record (invalid_utf8), not an order with garbled text
    latin = pf.OrderSpec("o-latin", dt.datetime(2025, 1, 2, 13, 0))
    text = pf.land_ndjson(home.landing, "latin1.ndjson", pf.order_events(latin)).read_bytes()
    pf.land_bytes(home.landing, "latin1.ndjson", text.replace(b"1 Test St", b"Caf\xe9 1 Test St"))
    # byte-order marks before a blank first line: no record
    bom = pf.OrderSpec("o-bom", dt.datetime(2025, 1, 2, 14, 0))
    text = pf.land_ndjson(home.landing, "bom.ndjson", pf.order_events(bom)).read_bytes()
    pf.land_bytes(home.landing, "bom.ndjson", "\ufeff\ufeff\n".encode() + text)
    # what the reference's replay writes (an integer location_id, no location or gk_id), for a home
    # seeded with the reference's locations (location 7 is not among them: kept as given)
    locations = pl.DataFrame(
        [loc[:3] for loc in rf.LOCATIONS],
        schema=["location_id", "location_code", "name"],
        orient="row",
    )
    home_catalog.write_tables(home.root, {"locations": locations}, "parity")
    reference_orders = [
        rf.Order("REF001", 1, 0, 12 * 60, ((1, 2), (4, 1))),
        rf.Order("REF002", 2, 1, 19 * 60, ((5, 1),), pings=3),
        rf.Order("REF003", 7, 1, 20 * 60, ((2, 1),), delivered=False),
    ]
    shift = int((dt.datetime(2025, 1, 2) - rf.EPOCH).total_seconds())
    rf.land_spark_json(home.landing, rf.expanded_events(reference_orders, shift))


def _land_later_events(home: CasperHome) -> None:
    """A second round: a late delivery of an order counted in the first, a new order whose events
    span two files, and a re-landed event."""
    orders = pf.standard_orders()
    undelivered = next(o for o in orders if o.delivered_min is None)
    late = dataclasses.replace(undelivered, delivered_min=75.0)
    delivered = [e for e in pf.order_events(late) if e["event_type"] == "delivered"]
    new = pf.order_events(pf.OrderSpec("o-new", orders[0].created + dt.timedelta(hours=5)))
    pf.land_ndjson(home.landing, "round2-a.ndjson", [*delivered, *new[:4], pf.events_of(orders)[0]])
    # .jsonl is a landing file like .ndjson, for the pipeline and for status alike
    pf.land_ndjson(home.landing, "round2-b.jsonl", new[4:])


def _duckdb_rows(home: CasperHome, table: str) -> tuple[list[str], list[tuple]]:
    """The table's columns and rows, without the lineage columns (batch numbers are per engine)."""
    columns = [c for c in pf.columns(home, table) if c not in pf.LINEAGE]
    return columns, pf.query(home, f"SELECT {', '.join(columns)} FROM {table}")


def _sort_key(row: tuple):
    return tuple((value is None, str(value)) for value in row)


def _assert_same_rows(
    table: str, columns: list[str], expected: list[tuple], actual: list[tuple]
) -> None:
    floats = {columns.index(c) for c in {**COMPARED, **SIMULATOR}[table]}
    assert len(actual) == len(expected), table
    for want, got in zip(
        sorted(expected, key=_sort_key), sorted(actual, key=_sort_key), strict=True
    ):
        for i, (a, b) in enumerate(zip(want, got, strict=True)):
            if i in floats and a is not None and b is not None:
                assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9), (
                    table,
                    columns[i],
                    want,
                    got,
                )
            else:
                assert a == b, (table, columns[i], want, got)


def test_spark_and_duckdb_build_identical_gold_and_ai_tables(tmp_path, capfd):
    pytest.importorskip("pyspark")
    if shutil.which("java") is None:
        pytest.skip("Spark needs Java")
    home = CasperHome(tmp_path / "home").ensure()
    _land_parity_data(home)

    duck = run_pipeline(engine_for(home, "duckdb"))
    spark_report = run_pipeline(engine_for(home, "spark"))
    assert spark_report.models_evaluated >= 15  # the first build evaluates views and seeds too
    # SQLMesh probes for tables not built yet; neither Spark nor pyspark may log a page per probe
    assert "TABLE_OR_VIEW_NOT_FOUND" not in capfd.readouterr().err
    _assert_same_tables(home, duck, spark_report)
    # a second run on each engine takes only what landed since: append and partition replacement
    _land_later_events(home)
    duck = run_pipeline(engine_for(home, "duckdb"))
    spark_report = run_pipeline(engine_for(home, "spark"))
    assert (duck.files_ingested, spark_report.files_ingested) == (2, 2)
    _assert_same_tables(home, duck, spark_report)
    _assert_status_reconciles_on_both_engines(home)


def _assert_status_reconciles_on_both_engines(home: CasperHome) -> None:
    """`casper status` reads through the engine: the spark home's counts come from its tables."""
    from casper.status import collect_status

    duck, spark = (
        collect_status(engine_for(home, "duckdb")),
        collect_status(engine_for(home, "spark")),
    )
    for status in (duck, spark):
        assert status["landed_events"] == status["bronze_events"] + status["quarantined"]
    figures = ("landed_files", "bronze_events", "quarantined", "orders", "delivered_orders")
    assert {k: spark[k] for k in figures} == {k: duck[k] for k in figures}
    assert spark["bronze_events"] > 0 and spark["delivered_orders"] > 0


def _assert_same_tables(home: CasperHome, duck, spark_report) -> None:
    assert (
        spark_report.files_ingested,
        spark_report.bronze_rows_added,
        spark_report.quarantined_added,
    ) == (
        duck.files_ingested,
        duck.bronze_rows_added,
        duck.quarantined_added,
    )
    # a run evaluates at least every table model (landing, staging, silver, ai): 7; the rest are views
    assert spark_report.audits_failed == 0 and spark_report.models_evaluated >= 7

    from engines.spark.sqlmesh import open_session, shutdown

    spark = open_session(home)
    try:
        for table in [*COMPARED, *SIMULATOR]:
            columns, expected = _duckdb_rows(home, table)
            frame = spark.table(table)
            assert [c for c in frame.columns if c not in pf.LINEAGE] == columns, table
            frame = frame.select(*columns)
            actual = [tuple(row) for row in frame.collect()]
            assert expected, f"{table} is empty: the parity check would be vacuous"
            _assert_same_rows(table, columns, expected, actual)
        reasons = {
            (r.source_file, r.record_no, r.reason)
            for r in spark.sql(
                "SELECT source_file, record_no, reason FROM lakeflow.quarantine"
            ).collect()
        }
        assert reasons == set(
            pf.query(home, "SELECT source_file, record_no, reason FROM lakeflow.quarantine")
        )
    finally:
        shutdown(home)
