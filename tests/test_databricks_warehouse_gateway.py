"""The laptop's databricks gateway: `sqlmesh plan/render` against the SQL warehouse, with a read-only
copy of the SQLMesh state the lakeflow job keeps in the artifacts volume.

Nothing here may reach the warehouse: databricks-sql-connector would retry a fake host for minutes,
so its `connect` is replaced by one that fails the test at once. Refusing an apply must happen
before any warehouse call, and that is what these tests hold the gateway to.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
from sqlmesh import Context
from sqlmesh.utils.errors import SQLMeshError

from casper.engine import open_engine
from casper.errors import CasperError
from casper.pipeline import sqlmesh_config
from casper.resources import models_dir
from casper.settings import Settings
from engines.databricks.names import WorkspaceNames
from engines.databricks.warehouse_gateway import STATE_COPY
from tests.databricks_fake import (
    FakeWorkspace,
    databricks_fake_fixture,  # noqa: F401  (provides the `databricks_fake` fixture)
)
from tests.databricks_fake.workspace import TOKEN

WAREHOUSE = "0123456789abcdef"
NAMES = WorkspaceNames.of(Settings.load())


class WarehouseTouched(AssertionError):
    pass


@pytest.fixture
def fake(databricks_fake: FakeWorkspace, monkeypatch) -> FakeWorkspace:
    import databricks.sql

    def refuse(*args, **kwargs):
        raise WarehouseTouched("the SQL warehouse was called")

    monkeypatch.setattr(databricks.sql, "connect", refuse)
    for key, value in databricks_fake.environ().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("CASPER_DATABRICKS_WAREHOUSE_ID", WAREHOUSE)
    return databricks_fake


def volume_state(fake: FakeWorkspace) -> Path:
    """Where the fake keeps the artifacts volume's state file (what the lakeflow job writes), the
    volume made as `up` makes it."""
    fake.seed_catalog(NAMES.catalog)
    fake.seed_schema(NAMES.catalog, NAMES.simulator_schema)
    fake.seed_volume(NAMES.catalog, NAMES.simulator_schema, "artifacts")
    relative = NAMES.sqlmesh_state_path.removeprefix(NAMES.artifacts_path).lstrip("/")
    return fake.volume_folder(NAMES.catalog, NAMES.simulator_schema, "artifacts") / relative


def cli_context(home: Path) -> Context:
    """The Context `sqlmesh -p models --config databricks_config ...` builds (models/config.py)."""
    engine = open_engine(Settings.load(home=home, engine="databricks"))
    return Context(
        paths=str(models_dir()), config=sqlmesh_config(engine, gateway=engine.cli_gateway_config())
    )


def test_render_before_any_deploy_gives_the_warehouses_sql_with_three_level_names(
    fake: FakeWorkspace, tmp_path
):
    result = sqlmesh_cli(
        fake, tmp_path, "render", "lakeflow.gold_order_header", "--dialect", "databricks"
    )
    assert result.returncode == 0, result.stderr
    rendered = " ".join(result.stdout.split())
    assert "FROM `caspers`.`lakeflow`.`silver_order_items`" in rendered, rendered
    assert "COLLECT_LIST" in rendered  # the databricks dialect, not DuckDB's list()
    assert TOKEN not in result.stdout + result.stderr
    # no state in the volume yet: an empty one was made locally, and nothing was uploaded
    assert (tmp_path / STATE_COPY).is_file()
    assert not fake.calls_to("PUT", "/api/2.0/fs/files")


def test_plan_shows_the_changes_and_an_apply_is_refused_before_the_warehouse_is_called(
    fake: FakeWorkspace, tmp_path
):
    plan = cli_context(tmp_path).plan(no_prompts=True, auto_apply=False)
    assert plan.has_changes
    assert {s.name.split(".")[-1].strip('"') for s in plan.new_snapshots} >= {
        "all_events",
        "silver_order_items",
        "gold_order_header",
    }

    # the jobs' state, as the lakeflow job left it in the volume
    state = volume_state(fake)
    state.parent.mkdir(parents=True, exist_ok=True)
    state.write_bytes((tmp_path / STATE_COPY).read_bytes())
    before = state.read_bytes()
    with pytest.raises(SQLMeshError, match="plans are applied by the lakeflow job"):
        cli_context(tmp_path).plan(no_prompts=True, auto_apply=True)
    assert state.read_bytes() == before
    assert not fake.calls_to("PUT", "/api/2.0/fs/files")

    # and should SQLMesh's evaluator be reached another way, the state copy refuses any write
    context = cli_context(tmp_path)
    with pytest.raises(Exception, match="read_only_copy_of_the_jobs_state.*read-only") as refused:
        context.state_sync.push_snapshots(context.plan(no_prompts=True).new_snapshots)
    assert not isinstance(refused.value, WarehouseTouched)


def sqlmesh_cli(fake: FakeWorkspace, home: Path, *args: str, warehouse: bool = True):
    """The `sqlmesh` command as a user types it, against the fake (its connector is real here:
    a call to the warehouse would hang this test until the timeout)."""
    env = {**fake.environ(), "CASPER_HOME": str(home), "CASPER_DATABRICKS_WAREHOUSE_ID": WAREHOUSE}
    if not warehouse:
        del env["CASPER_DATABRICKS_WAREHOUSE_ID"]
    command = [str(Path(sys.executable).with_name("sqlmesh")), "-p", str(models_dir())]
    return subprocess.run(
        [*command, "--config", "databricks_config", *args],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def test_the_sqlmesh_cli_refuses_an_apply_and_a_missing_warehouse_in_one_line(
    fake: FakeWorkspace, tmp_path
):
    applied = sqlmesh_cli(fake, tmp_path, "plan", "--auto-apply", "--no-prompts")
    assert applied.returncode == 1
    assert "Error: plans are applied by the lakeflow job" in applied.stdout + applied.stderr
    assert "Traceback" not in applied.stdout + applied.stderr
    unnamed = sqlmesh_cli(fake, tmp_path, "render", "lakeflow.all_events", warehouse=False)
    assert unnamed.returncode == 1
    assert unnamed.stderr.strip().splitlines() == [
        "Error: no SQL warehouse for the databricks gateway: `casper up --engine databricks` "
        "creates one, or name yours with CASPER_DATABRICKS_WAREHOUSE_ID"
    ]


def tables_in(state: Path) -> set[str]:
    import duckdb

    with duckdb.connect(str(state), read_only=True) as connection:
        rows = connection.execute(
            "SELECT table_schema || '.' || table_name FROM information_schema.tables"
        )
        return {row[0] for row in rows.fetchall()}


def test_each_config_reads_the_volumes_state_afresh(fake: FakeWorkspace, tmp_path):
    state = volume_state(fake)
    cli_context(tmp_path)  # the volume, no state in it yet: an empty state, SQLMesh's tables only
    copy = tmp_path / STATE_COPY
    assert "sqlmesh._versions" in tables_in(copy)
    assert not tables_in(copy) & {"sqlmesh.written_by_the_job"}

    # the lakeflow job has since written its state (here: the empty one and a table of its own)
    import duckdb

    state.parent.mkdir(parents=True, exist_ok=True)
    state.write_bytes(copy.read_bytes())
    with duckdb.connect(str(state)) as connection:
        connection.execute("CREATE TABLE sqlmesh.written_by_the_job AS SELECT 1 AS x")
    cli_context(tmp_path)
    assert copy.read_bytes() == state.read_bytes()
    assert "sqlmesh.written_by_the_job" in tables_in(copy)


def test_the_token_stays_out_of_the_config_and_the_home(fake: FakeWorkspace, tmp_path):
    engine = open_engine(Settings.load(home=tmp_path, engine="databricks"))
    config = sqlmesh_config(engine, gateway=engine.cli_gateway_config())
    connection = config.gateways["databricks"].connection
    assert connection.access_token == TOKEN  # what the connector sends
    assert connection.http_path == f"/sql/1.0/warehouses/{WAREHOUSE}"
    assert connection.server_hostname == fake.hostname
    assert TOKEN not in str(connection) and TOKEN not in repr(connection)
    assert TOKEN not in repr(config)
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert TOKEN.encode() not in path.read_bytes(), path


def test_without_a_warehouse_or_the_connector_one_clear_line(
    fake: FakeWorkspace, tmp_path, monkeypatch
):
    monkeypatch.delenv("CASPER_DATABRICKS_WAREHOUSE_ID")
    engine = open_engine(Settings.load(home=tmp_path, engine="databricks"))
    with pytest.raises(CasperError, match="no SQL warehouse for the databricks gateway"):
        engine.cli_gateway_config()
    monkeypatch.setitem(sys.modules, "databricks.sql", None)  # as if not installed
    with pytest.raises(CasperError, match="needs databricks-sql-connector"):
        engine.cli_gateway_config()


def test_the_pipeline_on_the_laptop_still_says_the_models_run_in_the_jobs(
    fake: FakeWorkspace, tmp_path
):
    engine = open_engine(Settings.load(home=tmp_path, engine="databricks"))
    with pytest.raises(CasperError, match="runs inside the deployed jobs"):
        engine.gateway_config()


def test_the_sqlmesh_cli_config_module_builds_the_warehouse_gateway(
    fake: FakeWorkspace, tmp_path, monkeypatch
):
    monkeypatch.setenv("CASPER_HOME", str(tmp_path))
    spec = importlib.util.spec_from_file_location(
        "casper_models_config", models_dir() / "config.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    config = module.databricks_config
    assert config.default_gateway == "databricks"
    assert config.gateways["databricks"].connection.type_ == "databricks"
