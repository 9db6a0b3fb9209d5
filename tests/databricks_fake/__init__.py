"""A fake Databricks workspace for tests: the REST routes the `databricks` engine uses, in-process.

    with FakeWorkspace() as fake:
        w = fake.client()
        w.catalogs.create(name="caspers")

or, in a test module, import `databricks_fake_fixture` from here and take the `databricks_fake` fixture.
`fake.job_executor = SubprocessTaskExecutor(fake)` makes job runs run their wheel task in a subprocess.
"""

from .executor import SubprocessTaskExecutor, TaskRun
from .fixtures import databricks_fake_fixture
from .jobs import RunOutcome
from .sql import SqlError
from .workspace import Call, FakeWorkspace

__all__ = [
    "Call",
    "FakeWorkspace",
    "RunOutcome",
    "SqlError",
    "SubprocessTaskExecutor",
    "TaskRun",
    "databricks_fake_fixture",
]
