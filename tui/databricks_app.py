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
from collections.abc import Callable, Mapping

from psycopg.conninfo import make_conninfo

from casper.errors import CasperError
from casper.home import CasperHome
from tui.web import StoreDsn, serve_review

APP_PORT_ENV = "DATABRICKS_APP_PORT"
ALL_INTERFACES = "0.0.0.0"

PasswordProvider = Callable[[], str]
"""Returns a currently valid password (a Lakebase OAuth token) for PGUSER."""


def lakebase_dsn(password: PasswordProvider, environ: Mapping[str, str] = os.environ) -> StoreDsn:
    """A DSN factory for the app's database resource, calling `password()` on every use."""
    missing = [name for name in ("PGHOST", "PGDATABASE", "PGUSER") if not environ.get(name)]
    if missing:
        raise CasperError(
            f"no {', '.join(missing)} in the environment: give the Databricks App a database resource"
        )
    fields = {
        "host": environ["PGHOST"],
        "port": environ.get("PGPORT") or "5432",
        "dbname": environ["PGDATABASE"],
        "user": environ["PGUSER"],
        "sslmode": environ.get("PGSSLMODE") or "require",
    }
    return lambda: make_conninfo(**fields, password=password())


def lakebase_oauth_password() -> str:
    """The seam for the Lakebase credential: not built yet. It is to return a fresh OAuth token for
    the app's service principal from databricks-sdk (the engine's Lakebase credential work)."""
    raise CasperError(
        "Lakebase OAuth credentials are not implemented yet: pass a password provider to "
        "tui.databricks_app.lakebase_dsn"
    )


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
        serve_databricks_app(lakebase_dsn(lakebase_oauth_password))
    except CasperError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
