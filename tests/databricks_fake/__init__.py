"""A fake Databricks workspace for tests: the REST routes the `databricks` engine uses, in-process.

    with FakeWorkspace() as fake:
        w = fake.client()
        w.catalogs.create(name="caspers")

or, in a test module, `from tests.databricks_fake import databricks_fake` and take the fixture.
"""

from .fixtures import databricks_fake
from .jobs import RunOutcome
from .sql import SqlError
from .workspace import Call, FakeWorkspace

__all__ = ["Call", "FakeWorkspace", "RunOutcome", "SqlError", "databricks_fake"]
