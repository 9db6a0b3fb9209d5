"""The deployed jobs do the work: `casper up --engine databricks` against the local fake, whose job
runs start each task's `casper` entry point in a subprocess on the jobs' local stand-in
(engines/databricks/runtime.py: a Spark Connect session on local[2] with parquet tables, the fake's
volume folder as /Volumes, the fake's Unity Catalog registry).

One deployment for the module (it is the slow part): raw_data, lakeflow, refund_agent,
refund_stream and the lakebase stage's reverse ETL run for real (the tests' PostgreSQL server plays
the Lakebase instance's database), then the tests check what they made against the duckdb engine on
the same landing files, and `casper down` leaves nothing.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from casper.home import CasperHome
from casper.pipeline import run_pipeline
from casper.refunds.scoring import scorable
from tests import pipeline_fixtures as pf
from tests.appstore_fixtures import LakebaseStandIn, postgres_playing_lakebase
from tests.databricks_fake import FakeWorkspace
from tests.databricks_fake.apps import app_principal
from tests.databricks_fake.executor import SubprocessTaskExecutor
from tests.databricks_fake.workspace import TOKEN
from tests.engine_helpers import engine_for
from tests.test_databricks_deploy import CATALOG, STAGE_JOBS, job_names, run, up, wheel  # noqa: F401
from tests.test_pipeline_spark import COMPARED, _assert_same_rows, _duckdb_rows
from tests.test_reference_columns import order_created_ts

pytestmark = [pytest.mark.slow, pytest.mark.spark, pytest.mark.postgres]

MODEL = f"{CATALOG}.ai.refund_model"
#: the review app's service principal: its PostgreSQL role, which Databricks makes for an app
#: whose resources include the database
APP_ROLE = app_principal("refundmanager")


@dataclass
class Deployed:
    fake: FakeWorkspace
    executor: SubprocessTaskExecutor
    lakebase: LakebaseStandIn
    home: Path
    before: dict[str, list[str]]
    up_stdout: str
    up_stderr: str
    up_seconds: float


@pytest.fixture(scope="module")
def deployed(tmp_path_factory, wheel) -> Iterator[Deployed]:  # noqa: F811
    if shutil.which("java") is None:
        pytest.skip("the jobs' stand-in runs Spark, which needs Java")
    with pytest.MonkeyPatch.context() as env:
        for key in list(os.environ):
            if key.startswith("DATABRICKS_"):
                env.delenv(key)
        env.setenv("DATABRICKS_CONFIG_FILE", "/dev/null")
        with (
            FakeWorkspace(pending_polls=0, database_host="127.0.0.1") as fake,
            postgres_playing_lakebase(CATALOG, fake.user_name, (APP_ROLE,)) as lakebase,
        ):
            assert lakebase.host == fake.database_host
            executor = SubprocessTaskExecutor(fake, env=lakebase.env)
            fake.job_executor = executor
            home = tmp_path_factory.mktemp("deployed") / "home"
            before = fake.state()
            started = time.monotonic()
            result = up(home, fake, wheel)
            took = time.monotonic() - started
            assert result.returncode == 0, f"{result.stderr}\n{executor}"
            yield Deployed(
                fake, executor, lakebase, home, before, result.stdout, result.stderr, took
            )


@pytest.fixture(scope="module")
def stand_in_tables(deployed) -> dict[str, tuple[list, list]]:
    return _stand_in_tables(deployed.fake, [*COMPARED, "recommender.refund_recommendations"])


def _stand_in_tables(fake: FakeWorkspace, tables: list[str]) -> dict[str, tuple[list, list]]:
    """(columns, rows) of the stand-in's Spark tables (its metastore and warehouse under the
    fake's root), read here with a classic local session once the jobs are done."""
    from pyspark.sql import SparkSession

    from engines.spark_common.conf import local_conf

    running = SparkSession.getActiveSession() or SparkSession._instantiatedSession
    if running is not None:
        running.stop()  # another test's home
    conf = {"spark.master": "local[2]", **local_conf(fake.root / "spark")}
    spark = SparkSession.builder.config(map=conf).enableHiveSupport().getOrCreate()
    try:
        frames = {table: spark.table(table) for table in tables}
        return {
            table: (frame.columns, [tuple(row) for row in frame.collect()])
            for table, frame in frames.items()
        }
    finally:
        spark.stop()


def _duckdb_home_on_the_same_files(deployed: Deployed, tmp_path: Path) -> CasperHome:
    home = CasperHome(tmp_path / "duck").ensure()
    volume = deployed.fake.volume_folder(CATALOG, "simulator", "events")
    landed = [p for p in volume.iterdir() if p.is_file() and not p.name.startswith(".")]
    assert landed, "nothing landed in the events volume"
    for path in landed:
        shutil.copy2(path, home.landing / path.name)
    run_pipeline(engine_for(home, "duckdb"))
    return home


def test_every_stage_job_ran_its_casper_command_on_the_job_compute(deployed):
    runs = {r.job_name: r for r in deployed.executor.runs}  # the last run of each
    assert set(runs) == set(job_names(*STAGE_JOBS))
    for stage, command in (
        ("lakeflow", ["pipeline"]),
        ("refund_agent", ["refunds", "train"]),
        ("refund_stream", ["refunds", "score"]),
        ("lakebase", ["sync"]),
    ):
        ran = runs[job_names(stage)[0]]
        assert ran.returncode == 0
        assert ran.parameters[-2 - len(command) : -2] == command
    assert "+0 quarantined" in runs[job_names("lakeflow")[0]].stdout
    assert f"{MODEL} version 1 is champion" in runs[job_names("refund_agent")[0]].stdout
    syncs = [r for r in deployed.executor.runs if r.job_name == job_names("lakebase")[0]]
    assert len(syncs) == 2  # the second after the app exists, to grant its identity
    # the scorer ran on Spark Connect: foreachBatch ran in the server's Python worker
    assert "ForeachBatch worker" in runs[job_names("refund_stream")[0]].stderr
    for stage in ("raw_data", *STAGE_JOBS, "app"):
        assert f"done {stage}:" in deployed.up_stdout
    print(f"\nup with the jobs run for real: {deployed.up_seconds:.0f} s")


def test_the_gold_tables_equal_the_duckdb_engines_on_the_same_files(
    deployed, stand_in_tables, tmp_path
):
    duck = _duckdb_home_on_the_same_files(deployed, tmp_path)
    tables = stand_in_tables
    for table in COMPARED:
        columns, expected = _duckdb_rows(duck, table)
        spark_columns, spark_rows = tables[table]
        assert [c for c in spark_columns if c not in pf.LINEAGE] == columns, table
        kept = [spark_columns.index(c) for c in columns]
        actual = [tuple(row[i] for i in kept) for row in spark_rows]
        assert expected, f"{table} is empty: the comparison would be vacuous"
        _assert_same_rows(table, columns, expected, actual)

    # every delivered order got exactly one recommendation, from the champion; an order the
    # model cannot score (a data-quality null in its features) stays pending, as on every engine
    columns, rows = tables["recommender.refund_recommendations"]
    order_ids = [row[columns.index("order_id")] for row in rows]
    versions = {row[columns.index("model_version")] for row in rows}
    delivered = engine_for(duck, "duckdb").warehouse().unscored_orders("1")
    scorable_ids = set(delivered.order_id[scorable(delivered)])
    assert len(scorable_ids) > len(delivered) / 2
    assert set(order_ids) == scorable_ids
    assert len(order_ids) == len(set(order_ids))
    assert versions == {"1"}


def test_the_reverse_etl_job_fills_the_app_store_in_lakebase(deployed, stand_in_tables):
    import psycopg

    columns, rows = stand_in_tables["recommender.refund_recommendations"]
    recommended = {row[columns.index("order_id")] for row in rows}
    sync = next(r for r in deployed.executor.runs if r.job_name == job_names("lakebase")[0])
    again = [r for r in deployed.executor.runs if r.job_name == job_names("lakebase")[0]][-1]
    assert "synced 0 recommendations" in again.stdout
    assert f"synced {len(recommended):,} recommendations" in sync.stdout
    assert TOKEN not in sync.stdout + sync.stderr and "fake-pg-token" not in sync.stderr
    with psycopg.connect(deployed.lakebase.dsn) as connection:
        synced = {
            r[0] for r in connection.execute("SELECT order_id FROM recommender.app_recommendations")
        }
        assert synced == recommended
        contexts = connection.execute("SELECT count(*) FROM recommender.order_context").fetchone()
        assert contexts == (len(recommended),)
        # the reference's columns, order_ts being when the order was created (read from the
        # events landed in the volume): written by the stream, carried by the sync
        created = order_created_ts(deployed.fake.volume_folder(CATALOG, "simulator", "events"))
        scored = {row[columns.index("order_id")]: row[columns.index("order_ts")] for row in rows}
        assert scored == {order: created[order] for order in recommended}
        reference = connection.execute(
            "SELECT order_id, ts, order_ts, agent_response FROM recommender.pg_recommendations"
        ).fetchall()
        assert {order: order_ts for order, _, order_ts, _ in reference} == scored
        # refunds.refund_decisions has the reference's constraints
        with pytest.raises(psycopg.errors.CheckViolation):
            connection.execute(
                "INSERT INTO refunds.refund_decisions (order_id, amount_usd, refund_class, reason)"
                " VALUES (%s, -1, 'partial', 'late')",
                (next(iter(synced)),),
            )


def test_the_review_apps_identity_may_read_the_store_and_decide(deployed, tmp_path):
    from psycopg.conninfo import make_conninfo

    from casper.appstore import accept_draft, open_store, sync_frames
    from casper.appstore.store import StoreError
    from tests.appstore_fixtures import synthetic_frames

    as_the_app = make_conninfo(deployed.lakebase.dsn, user=APP_ROLE)
    with open_store(CasperHome(tmp_path), as_the_app) as store:
        row = next(r for r in store.page().rows if not r.suggestion.is_error)
        store.apply_decision(accept_draft(row.order_id, row.suggestion, "ann", row.order_total))
        assert store.counts()["decisions"] == 1
        with pytest.raises(StoreError, match="permission denied"):
            sync_frames(store, *synthetic_frames(2))  # syncing stays the job's identity's


def test_the_champion_is_registered_in_unity_catalog(deployed):
    w = deployed.fake.client()
    model = w.registered_models.get(MODEL, include_aliases=True)
    assert {(a.alias_name, a.version_num) for a in model.aliases or []} == {("champion", 1)}
    version = w.model_versions.get(MODEL, 1)
    assert version.status is not None and version.status.value == "READY"
    files = [f for f in deployed.fake.files.paths() if f.startswith(f"/Models/{CATALOG}/ai/")]
    assert any(f.endswith("MLmodel") for f in files)


def test_state_that_outlives_a_run_is_kept_in_the_artifacts_volume(deployed):
    artifacts = deployed.fake.volume_folder(CATALOG, "simulator", "artifacts")
    assert (artifacts / "sqlmesh" / "state.duckdb").is_file()
    assert (artifacts / "checkpoints" / "refund_stream" / "commits").is_dir()
    assert (artifacts / "generator" / "simulation.json").is_file()
    for run_record in deployed.executor.runs:
        assert TOKEN not in run_record.stdout and TOKEN not in run_record.stderr


def test_down_leaves_nothing(deployed, wheel):  # noqa: F811  (runs last: it undoes the module's deploy)
    gone = run(deployed.home, deployed.fake, wheel, "down", "--engine", "databricks")
    assert gone.returncode == 0, gone.stderr
    assert deployed.fake.state() == deployed.before
