"""The app.yaml the databricks engine deploys the review app with: the command a Databricks App
starts (tui.databricks_app, which listens on $DATABRICKS_APP_PORT) and its environment.

Written without a YAML library: every scalar is JSON-quoted, and JSON strings are YAML strings.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

APP_ENTRY_MODULE = "tui.databricks_app"
# Exports and the keymap file live under the home; the app store is Lakebase, not a file here.
DEFAULT_APP_HOME = "/tmp/casper"


def app_yaml(
    *,
    home: str = DEFAULT_APP_HOME,
    env: Mapping[str, str] | None = None,
    value_from: Mapping[str, str] | None = None,
) -> str:
    """`env`: variables with fixed, non-secret values. `value_from`: variable -> app resource key,
    for values Databricks fills in at run time (secrets, resource ids). The database resource's
    PG* variables need no entry: Databricks sets them for the app's first database."""
    fixed = {"CASPER_HOME": home, **(env or {})}
    lines = ["command:", *(f"  - {_quote(part)}" for part in ("python", "-m", APP_ENTRY_MODULE))]
    lines.append("env:")
    for name, value in fixed.items():
        lines += [f"  - name: {_quote(name)}", f"    value: {_quote(value)}"]
    for name, resource in (value_from or {}).items():
        lines += [f"  - name: {_quote(name)}", f"    valueFrom: {_quote(resource)}"]
    return "\n".join(lines) + "\n"


def _quote(text: str) -> str:
    return json.dumps(str(text), ensure_ascii=False)
