"""The `databricks_fake` pytest fixture."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from .workspace import FakeWorkspace


@pytest.fixture(name="databricks_fake")
def databricks_fake_fixture(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeWorkspace]:
    """A started fake with no transient states (set `pending_polls[...]` to see them), and the test
    process's own DATABRICKS_* variables hidden so no developer profile leaks into a client."""
    for key in list(os.environ):
        if key.startswith("DATABRICKS_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("DATABRICKS_CONFIG_FILE", "/dev/null")
    with FakeWorkspace(pending_polls=0) as fake:
        yield fake
