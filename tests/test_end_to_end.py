"""The whole local flow in a temporary home: up, a live hour at high speed, counts that reconcile, down."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import psycopg
import pytest

from casper.manifest import Manifest
from tests.cli_helpers import NOW, casper, casper_in_process


def status(home) -> dict:
    return json.loads(casper(home, "status", "--json").stdout)


@pytest.mark.slow
def test_up_live_status_reconciles_and_down_removes_exactly_what_up_made(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "notes.txt").write_text("the user's own file")
    (home / "landing").mkdir()
    (home / "landing" / "README.txt").write_text("also the user's")

    first = casper(home, "up", "--now", NOW, "--days", "1", "--locations", "sanfrancisco,chicago")
    for stage in ("raw_data", "lakeflow", "refund_agent", "refund_stream", "lakebase", "app"):
        assert f"done {stage}:" in first.stdout
    after_up = status(home)
    assert all(after_up["stages"].values())
    assert after_up["champion_model_version"] == "1"

    again = casper(home, "up", "--now", NOW, "--days", "1", "--locations", "sanfrancisco,chicago")
    assert "nothing new" in again.stdout and "already champion" in again.stdout
    assert status(home) == after_up  # re-running up redoes and duplicates nothing

    # an hour of live orders in about a second, then what the watch loop does on a tick
    casper(home, "live", "--speed", "3600", "--sim-minutes", "60", "--batch-rows", "100")
    casper(home, "pipeline")
    casper(home, "refunds", "score")
    casper(home, "sync")

    report = status(home)
    assert report["landed_events"] > after_up["landed_events"]
    assert report["landed_events"] == report["bronze_events"] + report["quarantined"]
    assert report["delivered_orders"] > after_up["delivered_orders"]
    assert report["recommendations"] == report["delivered_orders"]
    assert report["pending"] + report["decisions"] == report["recommendations"]
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as connection:
        scored_twice = connection.execute(
            "SELECT count(*) FROM (SELECT order_id, model_version FROM recommender.refund_recommendations "
            "GROUP BY ALL HAVING count(*) > 1)"
        ).fetchone()[0]
        unscored = connection.execute(
            "SELECT count(*) FROM ai.order_delivery_times d WHERE delivered_ts IS NOT NULL AND NOT EXISTS "
            "(SELECT 1 FROM recommender.refund_recommendations r WHERE r.order_id = d.order_id)"
        ).fetchone()[0]
    assert (scored_twice, unscored) == (0, 0)

    spilled = home / "warehouse.duckdb.tmp"  # DuckDB's spill folder, as a killed build leaves it
    spilled.mkdir(exist_ok=True)
    (spilled / "duckdb_temp_storage_DEFAULT-0.tmp").write_bytes(b"\0" * 16)
    down = casper(home, "down")
    assert "removed warehouse.duckdb" in down.stdout and "removed mlflow/" in down.stdout
    left = sorted(str(p.relative_to(home)) for p in home.rglob("*"))
    assert left == ["landing", "landing/README.txt", "notes.txt"]


def test_down_on_a_home_without_up_removes_nothing(tmp_path):
    (tmp_path / "keep.txt").write_text("x")
    result = casper(tmp_path, "down")
    assert "nothing to remove" in result.stdout
    assert (tmp_path / "keep.txt").exists()


def home_that_was_up(home: Path, app_store_dsn: str) -> Path:
    """A home as `up` with a PostgreSQL app store leaves it, without running up."""
    (home / "mlflow").mkdir(parents=True)
    (home / "mlflow" / "mlflow.db").write_text("runs")
    (home / "landing").mkdir()
    (home / "landing" / "history-sanfrancisco-2026-11-25.ndjson").write_text("{}\n")
    (home / "warehouse.duckdb").write_text("tables")
    (home / "notes.txt").write_text("the user's own file")
    manifest = Manifest(home, app_store_dsn=app_store_dsn, stages={"raw_data": True})
    manifest.record("landing/history-*.ndjson", "glob")
    manifest.record("mlflow", "folder")
    manifest.record("warehouse.duckdb", "file")
    manifest.save()
    return home


def test_down_with_an_unreachable_app_store_removes_the_rest_and_says_what_is_left(
    tmp_path, monkeypatch
):
    home = home_that_was_up(tmp_path / "home", "postgresql://u@127.0.0.1:1/db")
    down = casper_in_process(
        home, "down", "--app-store", "postgresql://u:s3cret@127.0.0.1:1/db", monkeypatch=monkeypatch
    )
    assert down.returncode != 0
    assert sorted(str(p.relative_to(home)) for p in home.rglob("*")) == [
        "manifest.json",
        "notes.txt",
    ]
    assert "removed warehouse.duckdb" in down.stdout and "removed mlflow/" in down.stdout
    (problem, hint) = down.stderr.strip().splitlines()
    assert problem.startswith(
        "error: cannot drop the app store's PostgreSQL schemas recommender, refunds at "
        "postgresql://u@127.0.0.1:1/db: "
    )
    assert "Connection refused" in problem
    assert "casper down" in hint
    assert "s3cret" not in down.stdout + down.stderr and "Traceback" not in down.stderr
    left = Manifest.load(home)
    assert (left.entries, left.stages, left.app_store_dsn) == (
        {},
        {},
        "postgresql://u@127.0.0.1:1/db",
    )


@pytest.mark.postgres
def test_a_second_down_finishes_once_the_app_store_is_back(tmp_path, monkeypatch):
    from casper.appstore import open_store
    from casper.home import CasperHome
    from tests.appstore_fixtures import postgres_dsn

    dsn = postgres_dsn()
    home = home_that_was_up(tmp_path / "home", dsn)
    open_store(CasperHome(home), dsn).close()  # the schemas `up` made
    unreachable = "postgresql://u@127.0.0.1:1/db"
    first = casper_in_process(home, "down", "--app-store", unreachable, monkeypatch=monkeypatch)
    assert first.returncode != 0 and Manifest.load(home).app_store_dsn == dsn
    assert not (home / "warehouse.duckdb").exists()  # the first down removed what it could
    second = casper_in_process(home, "down", monkeypatch=monkeypatch)  # the recorded DSN answers
    assert second.returncode == 0, second.stderr
    assert "removed PostgreSQL schema refunds" in second.stdout
    assert sorted(str(p.relative_to(home)) for p in home.rglob("*")) == ["notes.txt"]
    with psycopg.connect(dsn) as connection:
        schemas = {
            r[0] for r in connection.execute("SELECT schema_name FROM information_schema.schemata")
        }
    assert not {"recommender", "refunds"} & schemas


def test_unknown_stage_is_refused(tmp_path):
    result = casper(tmp_path, "up", "--stages", "raw_data,teleport", check=False)
    assert result.returncode == 2 and "unknown stage 'teleport'" in result.stderr


def test_a_stage_brings_what_it_depends_on_in_order():
    from casper.stages import select_stages

    assert [s.name for s in select_stages(["lakebase"])] == [
        "raw_data",
        "lakeflow",
        "refund_agent",
        "refund_stream",
        "lakebase",
    ]
    assert [s.name for s in select_stages(["refund_agent", "raw_data"])] == [
        "raw_data",
        "lakeflow",
        "refund_agent",
    ]


@pytest.mark.slow
@pytest.mark.postgres
def test_an_app_store_password_is_never_written_under_the_home(tmp_path):
    import stat

    import psycopg
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    from tests.appstore_fixtures import postgres_dsn

    secret = "s3cret-pw-" + tmp_path.name
    fields = conninfo_to_dict(postgres_dsn())
    dsn = make_conninfo(**{k: str(v) for k, v in fields.items()}, password=secret)
    home = tmp_path / "home"
    first = casper(home, "up", "--now", NOW, "--days", "1", "--locations", "sanfrancisco",
                   "--app-store", dsn)  # fmt: skip
    assert secret not in first.stdout + first.stderr
    manifest = home / "manifest.json"
    assert stat.S_IMODE(manifest.stat().st_mode) == 0o600
    recorded = json.loads(manifest.read_text())["app_store_dsn"]
    assert conninfo_to_dict(recorded)["dbname"] == fields["dbname"] and "password" not in recorded
    for path in home.rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path
    assert status(home)["pending"] > 0  # the recorded DSN (no password) still reaches the store
    gone = casper(home, "down")  # drops the PostgreSQL schemas with the recorded DSN
    assert "PostgreSQL schema refunds" in gone.stdout
    with psycopg.connect(dsn) as connection:
        schemas = {
            r[0] for r in connection.execute("SELECT schema_name FROM information_schema.schemata")
        }
    assert not {"recommender", "refunds"} & schemas
