"""The engine port: one registry, one settings object, engines found by name, SQL written once."""

from __future__ import annotations

import inspect
import subprocess
import sys
from pathlib import Path

import pytest
import sqlglot

from casper.engine import Engine, UnknownEngineError, engine_class, engine_names, open_engine
from casper.home import CasperHome
from casper.refunds import queries
from casper.settings import Settings, SettingsError
from tests.cli_helpers import casper_env


def test_the_registry_finds_every_engine_by_entry_point():
    assert {"duckdb", "spark"} <= set(engine_names())
    for name in engine_names():
        cls = engine_class(name)
        assert issubclass(cls, Engine) and cls.name == name
        assert not inspect.isabstract(cls), f"{name} leaves part of the port unimplemented"


def test_an_unknown_engine_is_one_clear_error_naming_the_choices(tmp_path):
    with pytest.raises(
        UnknownEngineError, match=r"unknown engine 'nosuch': choose one of .*duckdb"
    ):
        open_engine(Settings.load(home=tmp_path, engine="nosuch"))


def test_settings_come_from_casper_variables_and_given_values_win(tmp_path, monkeypatch):
    monkeypatch.setenv("CASPER_HOME", str(tmp_path / "from-env"))
    monkeypatch.setenv("CASPER_ENGINE", "spark")
    monkeypatch.setenv("CASPER_CATALOG", "demo_catalog")
    settings = Settings.load()
    assert (settings.home, settings.engine, settings.catalog) == (
        tmp_path / "from-env",
        "spark",
        "demo_catalog",
    )
    given = Settings.load(home=tmp_path / "given", engine="duckdb", catalog=None)
    assert (given.home, given.engine, given.catalog) == (
        tmp_path / "given",
        "duckdb",
        "demo_catalog",
    )
    assert CasperHome.resolve().root == tmp_path / "from-env"


def test_a_bad_setting_names_the_setting_and_its_variable(monkeypatch):
    monkeypatch.setenv("CASPER_CATALOG", "no-dashes; DROP")
    with pytest.raises(
        SettingsError, match=r"setting catalog \(from \$CASPER_CATALOG\): .*identifier"
    ):
        Settings.load()


def test_a_bad_given_setting_does_not_blame_the_variable_it_overrode(tmp_path, monkeypatch):
    # `CASPER_HOME=... casper --home /etc/passwd status`: the bad value came from --home
    monkeypatch.setenv("CASPER_HOME", str(tmp_path))
    monkeypatch.setenv("CASPER_CATALOG", "fine")
    a_file = tmp_path / "passwd"
    a_file.write_text("")
    with pytest.raises(SettingsError) as refused:
        Settings.load(home=a_file)
    assert str(refused.value) == f"setting home: {a_file} is a file, not a folder"
    with pytest.raises(SettingsError, match=r"^setting catalog: "):
        Settings.load(catalog="no-dashes")


def test_the_cli_takes_the_engine_from_casper_engine(tmp_path):
    env = casper_env() | {"CASPER_ENGINE": "nosuch"}
    result = subprocess.run(
        [sys.executable, "-m", "casper", "--home", str(tmp_path), "status"],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip().startswith("error: unknown engine 'nosuch'")
    assert "Traceback" not in result.stderr
    explicit = subprocess.run(
        [sys.executable, "-m", "casper", "--home", str(tmp_path), "status", "--engine", "duckdb"],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert explicit.returncode == 0, explicit.stderr  # the option wins over the variable


def test_every_refund_query_is_written_once_and_renders_for_each_dialect():
    sql = [
        value for name, value in vars(queries).items() if name.isupper() and isinstance(value, str)
    ]
    sql += list(queries.COUNTS.values())
    statements = [s for s in sql if s.lstrip().upper().startswith(("SELECT", "WITH", "CREATE"))]
    assert len(statements) >= 10
    for statement in statements:
        for dialect in ("duckdb", "spark", "databricks"):
            rendered = queries.render(statement, dialect, window_days=1.0, version="1", since=None)
            assert ":" + "window_days" not in rendered and ":version" not in rendered
            sqlglot.parse_one(rendered, dialect=dialect)  # valid in the target dialect


def test_spark_rendering_keeps_json_nulls_and_drops_the_unenforceable_key():
    context = queries.render(queries.SYNC_CONTEXT, "spark", tables={"fresh": "v"})
    assert context.count("MAP('ignoreNullFields', 'false')") == 2
    assert " v " in context or "FROM v" in context  # the bound relation replaces `fresh`
    ddl = queries.render(queries.RECOMMENDATIONS_DDL, "spark")
    assert "PRIMARY KEY" not in ddl and "TIMESTAMP_NTZ" in ddl
    assert "PRIMARY KEY" in queries.render(queries.RECOMMENDATIONS_DDL, "duckdb")


def test_no_engine_implementation_keeps_its_own_copy_of_the_refund_sql():
    for path in (Path(__file__).parent.parent / "engines").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        for needle in ("ai.order_delivery_times AS d", "collect_list(", "to_json("):
            assert needle not in text, f"{path.name} holds refund SQL: {needle}"
