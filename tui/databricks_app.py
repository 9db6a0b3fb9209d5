"""What a Databricks App runs (`python -m tui.databricks_app`, see engines/databricks/app_yaml.py): the review app
served by textual-serve on 0.0.0.0:$DATABRICKS_APP_PORT, on the app's Lakebase database.

Databricks Apps send the workspace's https gateway (which does the login) to DATABRICKS_APP_PORT on
every interface, so binding 0.0.0.0 is required there. The app's database resource sets PGHOST,
PGPORT, PGDATABASE, PGUSER (the app's service principal) and PGSSLMODE; the password is an OAuth
token that expires, so the DSN is built afresh, with a fresh password, for every browser session
and every health check.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

from casper.engine import open_engine
from casper.errors import CasperError
from casper.home import CasperHome
from casper.settings import Settings
from tui.web import StoreDsn, serve_review

APP_PORT_ENV = "DATABRICKS_APP_PORT"
ALL_INTERFACES = "0.0.0.0"


def app_port(environ: Mapping[str, str] = os.environ) -> int:
    text = environ.get(APP_PORT_ENV, "")
    if not text.isdigit():
        raise CasperError(f"${APP_PORT_ENV} must be the port Databricks Apps set, not {text!r}")
    return int(text)


def serve_databricks_app(
    store_dsn: StoreDsn,
    *,
    environ: Mapping[str, str] = os.environ,
    home: CasperHome | None = None,
) -> None:
    """Serve until SIGTERM, on every interface at $DATABRICKS_APP_PORT. `store_dsn` is injected so
    the same entry runs on Lakebase (`lakebase_dsn`), local PostgreSQL or the embedded store."""
    serve_review(
        home or CasperHome.resolve(environ.get("CASPER_HOME")),
        store_dsn,
        host=ALL_INTERFACES,
        port=app_port(environ),
        allow_remote=True,
    )


def main() -> None:
    try:
        # the databricks engine, named with the app's environment (app.yaml), builds each DSN
        # with a fresh Lakebase OAuth password for the app's service principal
        engine = open_engine(Settings.load(engine=os.environ.get("CASPER_ENGINE") or "databricks"))
        serve_databricks_app(engine.app_store_dsn)
    except CasperError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
