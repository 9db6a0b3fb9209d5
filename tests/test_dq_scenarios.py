"""Data-quality scenarios (a location config's `dq_scenarios`): what `casper generate` lands, and the
pipeline's answers: quarantine, exactly-once dedup, late and out-of-order events joined on arrival.

The expected figures are computed here from the landing files, never copied: a line that is not
JSON is quarantined, every other line is an event; the "valid events" of a run are its events that
parsed, and a clean run (the same configs without the block) restricted to those events must give
the same silver, gold and ai tables.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections import defaultdict
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from casper.config import DQScenarios
from casper.generator import scenarios
from casper.generator.events import to_ndjson
from casper.home import CasperHome
from casper.landing import measure
from casper.pipeline import Pipeline, run_pipeline
from casper.resources import configs_dir
from casper.status import collect_status
from tests import pipeline_fixtures as pf
from tests.cli_helpers import NOW, casper
from tests.engine_helpers import engine_for

SHARES = {
    "malformed_lines": 0.01,
    "relanded_files": 0.5,
    "late_events": 0.1,
    "out_of_order_files": 0.5,
}
LOCATIONS = ("sanfrancisco", "chicago")
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
#: which landed record counts for an order (a re-landed copy, a tail file): where, not what
RECORD_LINEAGE = ("batch_no", "source_file", "record_no")


def _table(home: CasperHome, name: str) -> list[tuple]:
    """A table's rows in a stable order, without the columns naming the landed record they are from."""
    selected = ", ".join(c for c in pf.columns(home, name) if c not in RECORD_LINEAGE)
    return pf.query(home, f"SELECT {selected} FROM {name} ORDER BY ALL")


def _configs(folder: Path, block: dict | None) -> list[Path]:
    """The shipped configs (same location names, so the same seeds), with or without the block."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in LOCATIONS:
        document = json.loads((configs_dir() / f"{name}.json").read_text())
        if block is not None:
            document["dq_scenarios"] = block
        path = folder / f"{name}.json"
        path.write_text(json.dumps(document))
        paths.append(path)
    return paths


def _generate(root: Path, configs: list[Path], *extra: str) -> Path:
    options = [arg for path in configs for arg in ("--config", str(path))]
    casper(root, "generate", "--locations", "", "--now", NOW, "--days", "1", *options, *extra)
    return root / "landing"


def _files(landing: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(landing.glob("*.ndjson"))}


def _parsed(line: bytes) -> dict | None:
    try:
        record = json.loads(line)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


def _lines(payload: bytes) -> list[bytes]:
    return [line for line in payload.split(b"\n") if line.strip()]


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("dq")
    with_block = _configs(root / "configs-dq", SHARES)
    return {
        "dq": _generate(root / "dq", with_block),
        "clean": _generate(root / "clean", _configs(root / "configs-clean", None)),
        "zeros": _generate(root / "zeros", _configs(root / "configs-zeros", {})),
        "workers": _generate(root / "workers", with_block, "--workers", "2"),
        "configs": root / "configs-dq",
    }


# -- generation ------------------------------------------------------------------------------------


def test_no_scenarios_land_exactly_the_clean_bytes():
    events = pl.DataFrame(
        {"event_id": ["e1"], "event_type": ["gk_started"], "ts": ["2025-01-01 00:00:00.000000"],
         "gk_id": ["gk-x"], "location": ["x"], "order_id": ["o"], "sequence": [1], "body": ["{}"],
         "ts_us": [0]}
    )  # fmt: skip
    day = dt.date(2025, 1, 1)
    for block in (None, DQScenarios()):
        files = scenarios.landing_files("history-x.ndjson", events, block, 7, "x", day)
        assert files == {"history-x.ndjson": to_ndjson(events)}
        assert scenarios.last_file("history-x.ndjson", block, 7, "x", day) == "history-x.ndjson"


def test_a_block_of_zeros_lands_what_no_block_lands(generated):
    assert _files(generated["zeros"]) == _files(generated["clean"])


def test_the_scenarios_are_byte_identical_whatever_the_workers(generated):
    assert _files(generated["workers"]) == _files(generated["dq"])


def test_every_scenario_happened_and_moves_no_event_of_the_clean_run(generated):
    dq, clean = _files(generated["dq"]), _files(generated["clean"])
    names = set(dq)
    assert set(clean) < names
    assert any(n.endswith("-tail.ndjson") for n in names)
    assert any(n.endswith("-relanded.ndjson") for n in names)
    assert all(scenarios.late_name(n) in names for n in clean)  # late files asked for: one a day
    clean_lines = {line for payload in clean.values() for line in _lines(payload)}
    valid = invalid = 0
    for name, payload in dq.items():
        for line in _lines(payload):
            if _parsed(line) is None:
                invalid += 1  # a truncated clean line
                assert any(c.startswith(line) and c != line for c in clean_lines), name
            else:
                valid += 1
                assert line in clean_lines, name  # the events are the clean run's, byte for byte
        if name.endswith("-relanded.ndjson"):
            assert payload == dq[name.replace("-relanded", "")]
        if name.endswith("-late.ndjson"):
            types = {_parsed(line)["event_type"] for line in _lines(payload) if _parsed(line)}
            assert types <= set(scenarios.LATE_EVENT_TYPES)
    assert invalid > 0
    late = sum(len(_lines(p)) for n, p in dq.items() if n.endswith("-late.ndjson"))
    assert late > 0
    # every clean event that is not malformed everywhere landed at least once
    landed = {line for payload in dq.values() for line in _lines(payload) if _parsed(line)}
    assert len(clean_lines - landed) <= invalid


def test_an_interrupted_generate_lands_the_missing_files_and_nothing_else(generated, tmp_path):
    home = tmp_path / "resumed"
    shutil.copytree(generated["dq"].parent, home)
    landing = home / "landing"
    # a day cut short: its tail and day file landed, its re-landed and late files did not
    day = next(p.name for p in landing.glob("*-tail.ndjson")).replace("-tail", "")
    for name in (scenarios.relanded_name(day), scenarios.late_name(day)):
        (landing / name).unlink(missing_ok=True)
    configs = sorted(generated["configs"].glob("*.json"))
    _generate(home, configs)
    assert _files(landing) == _files(generated["dq"])


# -- the pipeline's answers ------------------------------------------------------------------------


def _expected_counts(files: dict[str, bytes]) -> dict[str, int]:
    """The status figures, counted from the landing files by their definitions (README.md)."""
    records = [(name, _parsed(line)) for name, p in files.items() for line in _lines(p)]
    events = [(name, record) for name, record in records if record is not None]
    created_in: dict[str, set[str]] = defaultdict(set)
    for name, event in events:
        if event["event_type"] == "order_created":
            created_in[event["order_id"]].add(name)
    late = [
        event
        for name, event in events
        if created_in[event["order_id"]] and name not in created_in[event["order_id"]]
    ]
    return {
        "landed_events": len(records),
        "bronze_events": len(events),
        "quarantined": len(records) - len(events),
        "quarantined_invalid_json": len(records) - len(events),
        "duplicate_events": len(events) - len({e["event_id"] for _, e in events}),
        "late_events": len(late),
        "landed_files": len(files),
    }


@pytest.fixture(scope="module")
def built(generated, tmp_path_factory) -> dict[str, CasperHome]:
    root = tmp_path_factory.mktemp("built")
    dq = CasperHome(root / "dq").ensure()
    for name, payload in _files(generated["dq"]).items():
        pf.land_bytes(dq.landing, name, payload)
    # the clean run's files, holding only the events that parsed in the scenario run
    valid_ids = {
        record["event_id"]
        for payload in _files(generated["dq"]).values()
        for line in _lines(payload)
        if (record := _parsed(line)) is not None
    }
    valid = CasperHome(root / "valid").ensure()
    for name, payload in _files(generated["clean"]).items():
        kept = [line for line in _lines(payload) if _parsed(line)["event_id"] in valid_ids]
        pf.land_bytes(valid.landing, name, b"".join(line + b"\n" for line in kept))
    run_pipeline(engine_for(dq))
    run_pipeline(engine_for(valid))
    return {"dq": dq, "valid": valid}


@pytest.mark.slow
def test_landed_equals_bronze_plus_quarantine_per_file_and_in_all(built):
    home = built["dq"]
    per_file = pf.query(
        home, "SELECT source_file, events, quarantined FROM lakeflow.ingested_files"
    )
    assert len(per_file) == len(list(home.landing.glob("*.ndjson")))
    for name, events, quarantined in per_file:
        payload = (home.landing / name).read_bytes()
        assert measure(name, payload)[0] == events + quarantined, name
        assert quarantined == sum(_parsed(line) is None for line in _lines(payload)), name
    reasons = pf.query(home, "SELECT DISTINCT reason FROM lakeflow.quarantine")
    assert reasons == [("invalid_json",)]


@pytest.mark.slow
def test_status_reports_what_the_landing_files_hold(built):
    home = built["dq"]
    status = collect_status(engine_for(home))
    expected = _expected_counts(_files(home.landing))
    assert {key: status[key] for key in expected} == expected
    assert status["landed_events"] == status["bronze_events"] + status["quarantined"]
    assert status["duplicate_events"] > 0 and status["late_events"] > 0


@pytest.mark.slow
def test_gold_equals_a_clean_run_over_the_valid_events(built):
    for name in DERIVED_TABLES:
        rows = _table(built["dq"], name)
        assert rows, f"{name} is empty: the comparison would be vacuous"
        assert rows == _table(built["valid"], name), name


@pytest.mark.slow
def test_ticks_over_the_files_in_a_shuffled_order_give_the_same_tables(built, tmp_path):
    files = _files(built["dq"].landing)
    order = list(files)
    np.random.default_rng(11).shuffle(order)
    home = CasperHome(tmp_path / "shuffled").ensure()
    pipeline = Pipeline(engine_for(home))
    try:
        for name in order:
            pf.land_bytes(home.landing, name, files[name])
            assert pipeline.tick().files_ingested == 1
    finally:
        pipeline.close()
    assert pf.scalar(home, "SELECT COUNT(DISTINCT batch_no) FROM lakeflow.landing_records") == len(
        files
    )
    for name in DERIVED_TABLES:
        assert _table(home, name) == _table(built["dq"], name), name
