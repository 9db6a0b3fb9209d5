"""The SQLMesh project itself: unit tests, audits, and rendering for Databricks without a workspace."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlglot
import yaml

from casper.home import CasperHome
from casper.pipeline import sqlmesh_config
from casper.resources import models_dir
from tests.engine_helpers import engine_for

# functions that exist in DuckDB only: none may survive the transpilation to Spark / Databricks
DUCKDB_ONLY = (
    "JSON_EXTRACT_STRING",
    "LIST_SORT",
    "LIST_DISTINCT",
    "ARRAY_LENGTH",
    "REGEXP_MATCHES",
    "STR_SPLIT",
    "GENERATE_SUBSCRIPTS",
    "READ_BLOB",
    "UNNEST",
    "DATE_DIFF",
    "->>",
    "::",
)


@pytest.fixture(scope="module")
def context(tmp_path_factory):
    from sqlmesh import Context

    home = CasperHome(tmp_path_factory.mktemp("models")).ensure()
    return Context(paths=str(models_dir()), config=sqlmesh_config(engine_for(home)))


def _sql_models(context):
    return {name: model for name, model in context.models.items() if not model.kind.is_seed}


def _short(name: str) -> str:
    return ".".join(part.strip('"') for part in name.split(".")[-2:])


def test_every_model_has_audits_but_the_item_lines_view_which_its_reader_checks(context):
    """Auditing the stg_order_items view would parse every record's items once more; each model
    reading it checks the lines it takes in with a contract covering the view's columns."""
    missing = [_short(name) for name, model in context.models.items() if not model.audits]
    assert missing == ["lakeflow.stg_order_items"]
    view = context.get_model("lakeflow.stg_order_items")
    readers = [m for m in context.models.values() if view.fqn in m.depends_on]
    assert readers
    for reader in readers:
        [contract] = [args for name, args in reader.audits if name == "contract"]
        not_null = {column.name for column in contract["not_null"].expressions}
        assert {"item_id", "menu_id", "category_id", "brand_id", "price", "qty"} <= not_null
        assert {"price", "qty", "extended_price"} <= {
            column.name for column in contract["non_negative"].expressions
        }


def test_every_sql_model_has_a_yaml_unit_test(context):
    tested = set()
    for path in (models_dir() / "tests").glob("*.yaml"):
        for body in yaml.safe_load(path.read_text()).values():
            tested.add(body["model"])
    untested = sorted(_short(name) for name in _sql_models(context) if _short(name) not in tested)
    # a seed would have no query for SQLMesh to unit-test (the simulator tables are SQL models)
    assert untested == []


def test_yaml_unit_tests_pass(context):
    result = context.test()
    failures = [f"{test}: {message}" for test, message in result.failures + result.errors]
    assert not failures, "\n".join(failures)
    assert result.testsRun >= len(_sql_models(context))


@pytest.mark.parametrize("dialect", ["databricks", "spark"])
def test_every_model_renders_for_databricks_and_spark(context, dialect):
    """What a Databricks (or Spark) gateway would run: each model's query transpiled, re-parsed."""
    for name, model in sorted(_sql_models(context).items()):
        sql = model.render_query().sql(dialect=dialect)
        parsed = sqlglot.parse_one(sql, read=dialect)
        assert isinstance(parsed, sqlglot.exp.Query), name
        leftovers = [f for f in DUCKDB_ONLY if f in sql.upper()]
        assert leftovers == [], f"{name}: {leftovers}"


def test_list_positions_shift_to_zero_based_engines(context):
    """Route points are read by position; Spark and Databricks count from 0, DuckDB from 1."""
    model = context.get_model("lakeflow.stg_pickup_routes")
    duck = model.render_query().sql(dialect="duckdb")
    spark = model.render_query().sql(dialect="databricks")
    # a segment's points are the route's i-th and (i+1)-th, then each point's lat and lon
    assert 'AS INT) + 1] AS "end_point"' in duck
    assert '"start_point"[1]' in duck and '"end_point"[2]' in duck
    assert "AS INT) + -1] AS `start_point`" in spark and "AS INT) + 0] AS `end_point`" in spark
    assert "`start_point`[0]" in spark and "`end_point`[1]" in spark


def test_models_are_written_in_the_duckdb_dialect(context):
    assert {model.dialect for model in context.models.values()} == {"duckdb"}
    assert Path(models_dir(), "config.py").is_file()


def _macro_module(name: str):
    """A macro file of the project as a module, leaving SQLMesh's global macro registry as it was
    (the decorator registers on import; a stray entry would be serialized into later projects)."""
    import importlib.util

    from sqlmesh.core.macros import macro

    path = models_dir() / "macros" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"casper_macros_{name}", path)
    module = importlib.util.module_from_spec(spec)
    registry = macro.get_registry()
    try:
        spec.loader.exec_module(module)
    finally:
        macro.set_registry(registry)
    return module


@pytest.mark.parametrize(("intervals", "watermark"), [([(0, 1)], 42), ([], 0)])
def test_the_watermark_takes_everything_when_sqlmesh_replaces_the_table(intervals, watermark):
    """Appending: only batches after the table's newest. Replacing (no interval recorded yet, e.g.
    a first build that wrote and then failed): every batch, or the rows already there would be lost."""
    import types

    import duckdb
    from sqlglot import exp
    from sqlmesh.core.engine_adapter import create_engine_adapter
    from sqlmesh.core.macros import MacroEvaluator, RuntimeStage

    connection = duckdb.connect()
    connection.execute(
        "CREATE TABLE model_table AS SELECT * FROM (VALUES (7), (42)) AS t(batch_no)"
    )
    evaluator = MacroEvaluator("duckdb", runtime_stage=RuntimeStage.EVALUATING)
    evaluator.locals.update(
        engine_adapter=create_engine_adapter(lambda: connection, "duckdb"),
        this_model=exp.to_table("model_table"),
        snapshot=types.SimpleNamespace(intervals=intervals),  # the only field the macro reads
    )
    condition = _macro_module("watermark").new_batches(evaluator, exp.to_table("lakeflow.model"))
    assert condition.sql(dialect="duckdb") == f"batch_no > {watermark}"
