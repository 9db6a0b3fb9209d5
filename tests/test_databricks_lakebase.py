"""Lakebase credentials: every DSN carries a freshly generated OAuth password (tokens expire)."""

from __future__ import annotations

import pytest
from psycopg.conninfo import conninfo_to_dict

from casper.settings import Settings
from engines.databricks.client import DatabricksError
from engines.databricks.lakebase import Lakebase
from engines.databricks.names import WorkspaceNames
from tests.databricks_fake import (
    FakeWorkspace,
    databricks_fake_fixture,  # noqa: F401  (provides the `databricks_fake` fixture)
)

NAMES = WorkspaceNames.of(Settings.load(catalog="caspers_test"))
APP_ENV = {"PGHOST": "instance-1.database.example", "PGDATABASE": "caspers_test", "PGUSER": "sp-1"}


def test_inside_the_app_the_resource_variables_and_a_fresh_token_per_dsn(
    databricks_fake: FakeWorkspace,
):
    lakebase = Lakebase(databricks_fake.client(), NAMES)
    lakebase.create_instance(progress=lambda line: None)
    first, second = conninfo_to_dict(lakebase.dsn(APP_ENV)), conninfo_to_dict(lakebase.dsn(APP_ENV))
    assert {k: first[k] for k in ("host", "dbname", "user", "sslmode", "port")} == {
        "host": "instance-1.database.example",
        "dbname": "caspers_test",
        "user": "sp-1",
        "sslmode": "require",
        "port": "5432",
    }
    asked = databricks_fake.calls_to("POST", "/api/2.0/database/credentials")
    assert len(asked) == 2 and asked[0].body["instance_names"] == ["caspers-test-lakebase"]
    assert first["password"] and second["password"] and first["password"] != second["password"]


def test_from_the_laptop_the_instance_host_and_the_callers_identity(databricks_fake: FakeWorkspace):
    lakebase = Lakebase(databricks_fake.client(), NAMES)
    host = lakebase.create_instance(progress=lambda line: None)
    dsn = conninfo_to_dict(lakebase.dsn({}))
    assert dsn["host"] == host and host
    assert dsn["dbname"] == "caspers_test" and dsn["user"] == databricks_fake.user_name


def test_a_resource_without_its_user_is_one_clear_error(databricks_fake: FakeWorkspace):
    lakebase = Lakebase(databricks_fake.client(), NAMES)
    with pytest.raises(DatabricksError, match="no PGUSER in the environment"):
        lakebase.dsn({"PGHOST": "h", "PGDATABASE": "d"})
