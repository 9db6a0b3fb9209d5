"""The reference's canonical dataset as published, and the events its replay writes, through
`casper replay`, the landing folder and the pipeline: gold against a recomputation from the
fixture's plain values (tests/reference_fixtures.py), re-runs that add nothing, bad input."""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from casper.home import CasperHome
from casper.landing import event_time
from casper.pipeline import run_pipeline
from tests import pipeline_fixtures as pf
from tests import reference_fixtures as rf
from tests.cli_helpers import casper, landed_events
from tests.engine_helpers import engine_for

NOW = dt.datetime(2026, 11, 26, 12, 0)
START_DAY = 1
#: the reference's time shift for START_DAY at NOW: dataset day 0 is START_DAY days before today
SHIFT_S = int((dt.datetime(2026, 11, 26) - dt.timedelta(days=START_DAY) - rf.EPOCH).total_seconds())
FAST = ["--speed", "100000000", "--batch-rows", "7"]
#: orders only the reference replay's own output holds (location 7 is in no locations.parquet)
EXPANDED = [
    rf.Order("EXP001", 1, 0, 15 * 60, ((3, 2),)),
    rf.Order("EXP002", 2, 1, 19 * 60 + 15, ((4, 1), (5, 1)), pings=0),
    rf.Order("EXP003", 7, 2, 8 * 60, ((1, 1),)),
]


@dataclass
class Replayed:
    dataset: Path
    home: CasperHome
    first_run: list[dict]  # what the first run (--start-day, --sim-minutes 0) landed
    report: object  # the pipeline's first tick


@pytest.fixture(scope="module")
def replayed(tmp_path_factory) -> Replayed:
    root = tmp_path_factory.mktemp("reference")
    dataset = rf.canonical_dataset(root / "canonical_dataset")
    home = CasperHome(root / "home")
    now = NOW.isoformat()
    casper(home.root, "replay", str(dataset), "--start-day", str(START_DAY), "--now", now,
           *FAST, "--sim-minutes", "0")  # fmt: skip
    first_run = landed_events(home.root)
    casper(home.root, "replay", str(dataset), *FAST)  # to the end, at --speed
    report = run_pipeline(engine_for(home))
    return Replayed(dataset, home, first_run, report)


def _shifted(ts_seconds: int) -> dt.datetime:
    return dt.datetime(1970, 1, 1) + dt.timedelta(seconds=ts_seconds + SHIFT_S)


def _location(location_id: int) -> str:
    return {i: code for i, code, *_ in rf.LOCATIONS}.get(location_id, str(location_id))


def _gold(orders: list[rf.Order]) -> dict[str, set[tuple]]:
    """Every gold table recomputed from the orders' plain values (prices, quantities, times)."""
    header, items, brands, hourly = set(), defaultdict(lambda: [0, Decimal(0)]), {}, {}
    brand_orders, brand_stats = defaultdict(set), defaultdict(lambda: [0, Decimal(0)])
    hour_orders, hour_revenue = defaultdict(set), defaultdict(Decimal)
    for order in orders:
        created = _shifted(order.created_s)
        day, location = created.date(), _location(order.location_id)
        revenue = Decimal(0)
        for item_id, qty in order.items:
            _, category_id, menu_id, brand_id, _, price = rf.ITEM_BY_ID[item_id]
            line = Decimal(str(price)) * qty
            revenue += line
            cell = items[item_id, menu_id, category_id, brand_id, day]
            cell[0] += qty
            cell[1] += line
            brand_orders[brand_id, day].add(order.order_id)
            brand_stats[brand_id, day][0] += qty
            brand_stats[brand_id, day][1] += line
        header.add(
            (
                order.order_id,
                f"gk-{location}",
                location,
                day,
                revenue,
                sum(q for _, q in order.items),
                len(order.items),
                tuple(sorted({rf.ITEM_BY_ID[i][3] for i, _ in order.items})),
            )
        )
        hour = created.replace(minute=0, second=0)
        hour_orders[location, hour].add(order.order_id)
        hour_revenue[location, hour] += revenue
    brands = {(b, d, len(o), *brand_stats[b, d]) for (b, d), o in brand_orders.items()}
    hourly = {(loc, h, len(o), hour_revenue[loc, h]) for (loc, h), o in hour_orders.items()}
    return {
        "gold_order_header": header,
        "gold_item_sales_day": {(*key, units, gross) for key, (units, gross) in items.items()},
        "gold_brand_sales_day": brands,
        "gold_location_sales_hourly": hourly,
    }


_GOLD_QUERIES = {
    "gold_order_header": "SELECT order_id, gk_id, location, order_day, order_revenue, total_qty, "
    "total_items, brands_in_order FROM lakeflow.gold_order_header",
    "gold_item_sales_day": "SELECT item_id, menu_id, category_id, brand_id, day, units_sold, "
    "gross_revenue FROM lakeflow.gold_item_sales_day",
    "gold_brand_sales_day": "SELECT brand_id, day, orders, items_sold, brand_revenue "
    "FROM lakeflow.gold_brand_sales_day",
    "gold_location_sales_hourly": "SELECT location, hour_ts, orders, revenue "
    "FROM lakeflow.gold_location_sales_hourly",
}


def _assert_gold(home: CasperHome, orders: list[rf.Order]) -> None:
    expected = _gold(orders)
    for table, sql in _GOLD_QUERIES.items():
        rows = {
            tuple(tuple(v) if isinstance(v, list) else v for v in row)
            for row in pf.query(home, sql)
        }
        assert rows == expected[table], table


def _compact_count() -> int:
    return len(rf.compact_rows())


def test_the_first_run_lands_days_0_to_start_day_up_to_the_present_time_of_day(replayed):
    cutoff = rf.EPOCH + dt.timedelta(days=START_DAY, hours=NOW.hour)
    due = [
        row for row in rf.compact_rows()
        if dt.datetime(1970, 1, 1) + dt.timedelta(seconds=row["ts_seconds"]) <= cutoff
    ]  # fmt: skip
    assert 0 < len(due) < _compact_count()
    assert sorted((e["order_id"], e["sequence"]) for e in replayed.first_run) == sorted(
        (row["order_id"], row["sequence"]) for row in due
    )
    # day START_DAY is today: the newest event landed is at or before the present
    assert max(e["ts"] for e in replayed.first_run) <= NOW.isoformat(sep=" ")
    assert min(e["ts"] for e in replayed.first_run).startswith("2026-11-25")  # day 0


def test_every_row_lands_once_and_the_pipeline_reconciles(replayed):
    events = landed_events(replayed.home.root)
    assert len(events) == _compact_count()
    assert len({e["event_id"] for e in events}) == len(events)
    report = replayed.report
    assert report.bronze_rows_added + report.quarantined_added == _compact_count()
    assert report.quarantined_added == len(rf.UNMAPPED)
    reasons = pf.query(
        replayed.home, "SELECT order_id, reason FROM lakeflow.quarantine ORDER BY order_id"
    )
    assert reasons == sorted((oid, f"unmapped:{column}") for oid, column, _ in rf.UNMAPPED)
    # a quarantined row keeps its own columns: nothing of it is dropped
    raw = json.loads(pf.scalar(replayed.home, "SELECT raw_text FROM lakeflow.quarantine "
                                              "WHERE order_id = 'LOST01'"))  # fmt: skip
    assert (raw["location_id"], raw["event_type_id"], raw["customer_addr"]) == (9, 1, "1 Lost Rd")
    # casper status counts the replay's files as the pipeline does
    from casper.status import collect_status

    status = collect_status(engine_for(replayed.home))
    assert status["landed_events"] == status["bronze_events"] + status["quarantined"]
    assert status["landed_events"] == _compact_count()


def test_bodies_are_built_as_the_reference_replay_builds_them(replayed):
    events = {(e["order_id"], e["sequence"]): e for e in landed_events(replayed.home.root)}
    order = rf.ORDERS[0]
    rows = {row["sequence"]: row for row in rf.order_rows(order)}
    created = events[order.order_id, 0]
    assert (created["event_type"], created["location"], created["gk_id"]) == (
        "order_created", "sf", "gk-sf")  # fmt: skip
    body = json.loads(created["body"])
    assert list(body) == ["customer_lat", "customer_lon", "customer_addr", "items"]
    assert body["items"] == json.loads(rows[0]["items_json"])
    assert body["customer_lat"] == pytest.approx(rows[0]["customer_lat"], abs=1e-5)
    picked = json.loads(events[order.order_id, 5]["body"])
    assert list(picked) == ["route_points"]  # no eta_mins, as the reference
    assert picked["route_points"] == [list(p) for p in json.loads(rows[5]["route_json"])]
    ping = json.loads(events[order.order_id, 6]["body"])
    assert list(ping) == ["progress_pct", "loc_lat", "loc_lon"]
    delivered = json.loads(events[order.order_id, 8]["body"])
    assert list(delivered) == ["delivered_lat", "delivered_lon"]
    assert events[order.order_id, 1]["body"] == "{}"
    assert {e["event_type"] for e in events.values() if "event_type" in e} == set(
        rf.EVENT_TYPES.values()
    )


def test_gold_matches_a_recomputation_from_the_fixture(replayed):
    _assert_gold(replayed.home, rf.ORDERS)


def test_the_simulator_tables_hold_the_datasets_dimensions(replayed):
    home = replayed.home
    assert pf.query(home, "SELECT brand_id, name, cuisine FROM simulator.brands ORDER BY 1") == [
        (b, name, cuisine) for b, name, cuisine, _ in rf.BRANDS
    ]
    assert pf.query(home, "SELECT * FROM simulator.menus ORDER BY 1") == rf.MENUS
    assert pf.query(home, "SELECT * FROM simulator.categories ORDER BY 1") == rf.CATEGORIES
    assert pf.query(
        home, "SELECT item_id, category_id, menu_id, brand_id, name, price FROM simulator.items "
        "ORDER BY 1"
    ) == rf.ITEMS  # fmt: skip
    assert (
        pf.query(
            home,
            "SELECT location_id, location_code, name, lat, lon FROM simulator.locations ORDER BY 1",
        )
        == rf.LOCATIONS
    )
    # every item sold joins its brand's name
    unjoined = pf.scalar(
        home,
        "SELECT COUNT(*) FROM lakeflow.silver_order_items AS s "
        "LEFT JOIN simulator.brands AS b USING (brand_id) WHERE b.name IS NULL",
    )
    assert unjoined == 0


def test_a_second_replay_lands_nothing_and_bronze_is_unchanged(replayed):
    home = replayed.home
    files = sorted(p.name for p in home.landing.iterdir())
    again = casper(home.root, "replay", str(replayed.dataset), "--start-day", str(START_DAY), *FAST)
    assert "0 events landed this run" in again.stdout
    assert "seeded" not in again.stderr  # the catalog is the same: nothing written again
    assert sorted(p.name for p in home.landing.iterdir()) == files
    report = run_pipeline(engine_for(home))
    assert (report.files_ingested, report.bronze_rows_added, report.quarantined_added) == (0, 0, 0)
    assert report.bronze_rows_total == replayed.report.bronze_rows_total


def test_a_replay_into_another_home_lands_the_same_events(replayed, tmp_path):
    other = tmp_path / "other"
    casper(other, "replay", str(replayed.dataset), "--start-day", str(START_DAY),
           "--now", NOW.isoformat(), *FAST)  # fmt: skip

    def lines(root: Path) -> list[str]:
        return sorted(json.dumps(e, sort_keys=True) for e in landed_events(root))

    assert lines(other) == lines(replayed.home.root)


def test_the_reference_replays_own_events_reach_bronze_and_gold(replayed):
    """What the reference's replay writes into its volume (Spark's part-*.json files of JSON lines:
    an integer location_id, no location, no gk_id, milliseconds), dropped into the landing folder
    of the home seeded above: bronze, location from simulator.locations or kept as given."""
    home = replayed.home
    before = pf.scalar(home, "SELECT COUNT(*) FROM lakeflow.all_events")
    expanded = rf.expanded_events(EXPANDED, SHIFT_S)
    paths = rf.land_spark_json(home.landing, expanded)
    # casper status decides as the pipeline does
    assert all(event_time(line) for p in paths for line in p.read_text().splitlines())
    report = run_pipeline(engine_for(home))
    assert (report.files_ingested, report.bronze_rows_added, report.quarantined_added) == (
        len(paths), len(expanded), 0)  # fmt: skip
    assert pf.scalar(home, "SELECT COUNT(*) FROM lakeflow.all_events") == before + len(expanded)
    located = pf.query(
        home,
        "SELECT DISTINCT order_id, location, gk_id FROM lakeflow.all_events "
        "WHERE order_id LIKE 'EXP%' ORDER BY 1",
    )
    assert located == [("EXP001", "sf", "gk-sf"), ("EXP002", "chicago", "gk-chicago"),
                       ("EXP003", "7", "gk-7")]  # fmt: skip
    # milliseconds, as written
    ts = pf.scalar(
        home, "SELECT strftime(ts, '%Y-%m-%d %H:%M:%S.%f') FROM lakeflow.all_events "
        "WHERE order_id = 'EXP001' AND sequence = 0"
    )  # fmt: skip
    assert ts == next(e["ts"] for e in expanded if e["order_id"] == "EXP001") + "000"
    _assert_gold(home, rf.ORDERS + EXPANDED)


def test_reference_loops_suffix_order_ids_with_L_and_move_by_whole_days(tmp_path):
    dataset = rf.canonical_dataset(tmp_path / "canonical_dataset")
    home = tmp_path / "home"
    cycle_days = 3  # orders on days 0, 1 and 2
    casper(home, "replay", str(dataset), "--loop", "--loop-style", "reference", "--now",
           NOW.isoformat(), "--speed", "100000000", "--batch-rows", "500",
           "--sim-minutes", str(1.5 * cycle_days * 24 * 60))  # fmt: skip
    events = landed_events(home)
    first = {(e["order_id"], e["sequence"]): e for e in events if "-L" not in e["order_id"]}
    looped = [e for e in events if e["order_id"].endswith("-L1")]
    assert looped and not any(e["order_id"].endswith("-L2") for e in events)
    assert len({e["event_id"] for e in events}) == len(events)
    for event in looped:
        original = first[event["order_id"].removesuffix("-L1"), event["sequence"]]
        moved = dt.datetime.fromisoformat(event["ts"]) - dt.datetime.fromisoformat(original["ts"])
        assert moved == dt.timedelta(days=cycle_days)
        assert event.get("body") == original.get("body")
    # a loop's events keep their relative order with the next loop's: keys never go back
    keys = [(e["ts"], e["order_id"], e["sequence"]) for e in events]
    assert keys == sorted(keys)


# -- bad input ------------------------------------------------------------------------------------


def test_a_dataset_without_locations_parquet_is_one_line(tmp_path):
    dataset = rf.canonical_dataset(tmp_path / "ds")
    (dataset / "locations.parquet").unlink()
    result = casper(tmp_path / "home", "replay", str(dataset), check=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip() == (
        f"error: {dataset / 'locations.parquet'}: not found: a reference dataset needs it beside "
        "events.parquet to map location_id to a location"
    )
    assert not (tmp_path / "home" / "landing").exists() or not any(
        (tmp_path / "home" / "landing").iterdir()
    )


@pytest.mark.parametrize("broken", ["events.parquet", "locations.parquet", "items.parquet"])
def test_a_malformed_parquet_is_one_line_naming_it(tmp_path, broken):
    dataset = rf.canonical_dataset(tmp_path / "ds")
    (dataset / broken).write_bytes(b"PAR1 not really")
    result = casper(tmp_path / "home", "replay", str(dataset), check=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        f"error: {dataset / broken}: not a readable parquet"
    )


def test_an_events_parquet_without_the_reference_columns_is_one_line(tmp_path):
    dataset = rf.canonical_dataset(tmp_path / "ds")
    pl.DataFrame({"order_id": ["A"], "ts": [1]}).write_parquet(dataset / "events.parquet")
    result = casper(tmp_path / "home", "replay", str(dataset), check=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "no column location_id, event_type_id, ts_seconds, sequence" in result.stderr


def test_a_seeded_home_refuses_generated_orders_and_another_datasets_menu(replayed, tmp_path):
    home = replayed.home
    generate = casper(home.root, "generate", "--days", "1", "--locations", "sanfrancisco",
                      check=False)  # fmt: skip
    assert generate.returncode == 2 and "Traceback" not in generate.stderr
    assert "menu catalog was seeded from a replayed dataset" in generate.stderr
    other = rf.canonical_dataset(tmp_path / "other_dataset")
    renamed = pl.read_parquet(other / "brands.parquet").with_columns(name=pl.lit("Renamed"))
    renamed.write_parquet(other / "brands.parquet")
    refused = casper(home.root, "replay", str(other), check=False)
    assert refused.returncode == 2 and "its brands differ from those this home was seeded" in (
        refused.stderr
    )


def test_a_resumed_replay_keeps_its_start_day(replayed):
    result = casper(replayed.home.root, "replay", str(replayed.dataset), "--start-day", "5",
                    check=False)  # fmt: skip
    assert result.returncode == 2
    assert "began with --start-day 1" in result.stderr and "Traceback" not in result.stderr


def test_rows_whose_json_columns_are_not_arrays_are_marked_not_dropped():
    from casper.generator.reference import expand

    rows = [
        rf._row(
            "BADITM", 1, 1, 1_704_100_000, 0, items_json='{"id": 1}', customer_lat=float("nan")
        ),
        rf._row("BADRTE", 1, 6, 1_704_100_060, 5, route_json="[[37.1, -122.2], [oops"),
        rf._row("GOODRT", 2, 6, 1_704_100_120, 5, route_json="[[41.1, -87.2]]"),
        rf._row("NOITEM", 2, 1, 1_704_100_180, 0, customer_lat=41.5),
    ]
    frame = pl.DataFrame(rows, schema=rf.COMPACT_SCHEMA).with_columns(
        location_id=pl.col("location_id").cast(pl.Int64),
        event_type_id=pl.col("event_type_id").cast(pl.Int64),
        sequence=pl.col("sequence").cast(pl.Int64),
        customer_lat=pl.col("customer_lat").cast(pl.Float64).fill_nan(None),
        **{c: pl.col(c).cast(pl.Float64) for c in ("customer_lon", "ping_lat", "ping_lon",
                                                     "ping_progress")},
        _location_id_text=pl.col("location_id").cast(pl.String),
        _event_type_id_text=pl.col("event_type_id").cast(pl.String),
    )  # fmt: skip
    events = {e["order_id"]: e for e in expand(frame, {1: "sf", 2: "chicago"}).to_dicts()}
    assert events["BADITM"]["replay_unmapped"] == "items_json"
    assert json.loads("{" + events["BADITM"]["raw"] + "}")["items_json"] == '{"id": 1}'
    assert events["BADRTE"]["replay_unmapped"] == "route_json"
    assert events["GOODRT"]["replay_unmapped"] is None
    assert json.loads(events["GOODRT"]["body"]) == {"route_points": [[41.1, -87.2]]}
    # no items_json: no items, as the reference's replay leaves them out; no NaN in any body
    assert events["NOITEM"]["replay_unmapped"] is None
    assert json.loads(events["NOITEM"]["body"]) == {"customer_lat": 41.5}


def test_seeding_refuses_a_home_with_generated_history(tmp_path):
    home = tmp_path / "home"
    casper(home, "generate", "--days", "1", "--locations", "sanfrancisco", "--now", NOW.isoformat())
    dataset = rf.canonical_dataset(tmp_path / "ds")
    result = casper(home, "replay", str(dataset), check=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "holds generated history on the shipped menu catalog" in result.stderr
    assert not (home / "catalog").exists()
    # a dataset without menu files only maps locations: it replays beside generated history
    bare = rf.canonical_dataset(tmp_path / "bare", dimensions=False)
    casper(home, "replay", str(bare), *FAST)
    assert (home / "catalog" / "locations.csv").is_file()
    assert not (home / "catalog" / "brands.csv").exists()
