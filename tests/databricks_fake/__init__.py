"""A fake Databricks workspace for tests: the REST routes the `databricks` engine uses, in-process.

    with FakeWorkspace() as fake:
        w = fake.client()
        w.catalogs.create(name="caspers")

or, in a test module, import `databricks_fake_fixture` from here and take the `databricks_fake` fixture.
"""

from .fixtures import databricks_fake_fixture
from .jobs import RunOutcome
from .sql import SqlError
from .workspace import Call, FakeWorkspace

__all__ = ["Call", "FakeWorkspace", "RunOutcome", "SqlError", "databricks_fake_fixture"]
