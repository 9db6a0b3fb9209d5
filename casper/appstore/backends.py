"""Where the two app store engines differ, kept in one place.

SQL in the store is written once, with `?` placeholders and the `recommender.` / `refunds.` schema
prefixes. On SQLite the schemas are two database files ATTACHed to one connection; on PostgreSQL
(the stand-in for Lakebase) they are real schemas. Everything else that differs is here: placeholders,
column types, index syntax, how a write transaction takes its lock, bulk loading, and how
timestamps, amounts and JSON cross the driver.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # psycopg loads with the first PostgreSQL store (`casper status` on SQLite never)
    import psycopg
    from psycopg.types.json import Jsonb

SCHEMAS = ("recommender", "refunds")


@dataclass(frozen=True)
class Relation:
    """A table or view found in the store: what it is and its columns."""

    kind: str  # "table", "view" or "index"
    columns: tuple[str, ...]


# How long a writer waits for another process's write transaction before giving up.
BUSY_TIMEOUT_SECONDS = 30
# Columns holding timestamps or amounts, the values SQLite's driver cannot take as they are.
CONVERTED_COLUMNS = frozenset(
    {
        "ts",
        "order_ts",
        "synced_ts",
        "created_ts",
        "decided_ts",
        "suggested_usd",
        "order_total",
        "amount_usd",
    }
)


class SqliteBackend:
    """Embedded store: no server. Two files ATTACHed as the schemas `recommender` and `refunds`, so
    the SQL reads as on PostgreSQL and each transaction commits to one file. WAL lets every reader
    run while a writer writes; writers (the pipeline's sync, the review app) take turns, each waiting
    up to the busy timeout, so neither side ever sees a lock error."""

    name = "sqlite"
    driver_errors: tuple[type[Exception], ...] = (sqlite3.Error,)
    distinct_from = "IS NOT"
    # A search reads every order id once, keeping the few matches for the page: one serial scan
    # instead of a count and a newest-first scan (about half the time at a million rows).
    search_in_one_scan = True
    types = {
        "ts": "TEXT",
        "json": "TEXT",
        "serial_pk": "INTEGER PRIMARY KEY AUTOINCREMENT",
        "now": "(strftime('%Y-%m-%d %H:%M:%f', 'now'))",
    }

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def file(self, schema: str) -> Path:
        return self.directory / f"{schema}.sqlite"

    def exists(self) -> bool:
        return all(self.file(schema).exists() for schema in SCHEMAS)

    def describe(self) -> str:
        return str(self.directory)

    def connect(self) -> sqlite3.Connection:
        self.directory.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: the store issues BEGIN/COMMIT itself, so a read is never left
        # holding a snapshot open; check_same_thread=False: the app's workers share it under a lock.
        conn = sqlite3.connect(
            ":memory:",
            isolation_level=None,
            check_same_thread=False,
            timeout=BUSY_TIMEOUT_SECONDS,
        )
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_SECONDS * 1000}")
        for schema in SCHEMAS:
            conn.execute(f"ATTACH DATABASE ? AS {schema}", (str(self.file(schema)),))
            conn.execute(f"PRAGMA {schema}.journal_mode = WAL")
        # Recommendations can be synced again; decisions cannot be recreated, so only the
        # recommendations file trades durability on power loss for faster commits.
        conn.execute("PRAGMA recommender.synchronous = NORMAL")
        conn.execute("PRAGMA refunds.synchronous = FULL")
        return conn

    def sql(self, text: str) -> str:
        return text

    def schema_ddl(self, conn: sqlite3.Connection) -> list[str]:
        del conn
        return []  # each schema is an attached file

    def schema_objects(self, conn: sqlite3.Connection) -> set[str]:
        """The tables and indexes there are, as `schema.name`."""
        return {
            f"{schema}.{name}"
            for schema in SCHEMAS
            for (name,) in conn.execute(
                f"SELECT name FROM {schema}.sqlite_master WHERE type IN ('table', 'index')"
            )
        }

    def index_ddl(self, schema: str, table: str, name: str, columns: str) -> str:
        return f"CREATE INDEX IF NOT EXISTS {schema}.{name} ON {table} ({columns})"

    def view_ddl(self, schema: str, view: str, table: str, columns: Sequence[str]) -> str:
        # a view in an attached file reads tables of that file, named without their schema
        return f"CREATE VIEW {schema}.{view} AS SELECT {', '.join(columns)} FROM {table}"

    def replace_view_ddl(
        self, schema: str, view: str, table: str, columns: Sequence[str]
    ) -> list[str]:
        return [f"DROP VIEW {schema}.{view}", self.view_ddl(schema, view, table, columns)]

    def owns(self, conn: sqlite3.Connection, schema: str, name: str) -> bool:
        del conn, schema, name  # whoever may write the files may change them
        return True

    def relation(self, conn: sqlite3.Connection, schema: str, name: str) -> Relation | None:
        row = conn.execute(
            f"SELECT type FROM {schema}.sqlite_master WHERE name = ? "
            "AND type IN ('table', 'view', 'index')",
            (name,),
        ).fetchone()
        if row is None:
            return None
        columns = tuple(r[1] for r in conn.execute(f"PRAGMA {schema}.table_info({name})"))
        return Relation(row[0], columns)

    def lower_like(self, column: str) -> str:
        """`lower(column) LIKE ?`, for a lower-case pattern. SQLite's lower() folds only ASCII
        letters and its LIKE already ignores their case, so the column as it is matches the same
        rows, without lowering every value of a scan."""
        return f"{column} LIKE ? ESCAPE '\\'"

    @contextmanager
    def schema_transaction(self, conn: sqlite3.Connection) -> Iterator[None]:
        with self.write_transaction(conn, lock_table=""):
            yield

    @contextmanager
    def write_transaction(self, conn: sqlite3.Connection, lock_table: str) -> Iterator[None]:
        # IMMEDIATE takes the write lock up front (waiting up to busy_timeout), so a transaction
        # that reads before it writes can never fail half-way with SQLITE_BUSY_SNAPSHOT.
        del lock_table  # SQLite locks whole files, not tables
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def lock_table(self, conn: sqlite3.Connection, table: str) -> None:
        del conn, table  # SQLite locks whole files, not tables: BEGIN IMMEDIATE locks them all

    def refresh_statistics(self, conn: sqlite3.Connection, table: str) -> None:
        del conn, table  # the store never runs ANALYZE: SQLite plans by its fixed rules

    @contextmanager
    def read_snapshot(self, conn: sqlite3.Connection) -> Iterator[None]:
        conn.execute("BEGIN")
        try:
            yield
        finally:
            conn.execute("COMMIT")

    def create_stage(self, conn: sqlite3.Connection, stage: str, like: str) -> None:
        conn.execute(f"DROP TABLE IF EXISTS temp.{stage}")
        conn.execute(f"CREATE TEMP TABLE {stage} AS SELECT * FROM {like} WHERE 1 = 0")

    def load_stage(
        self, conn: sqlite3.Connection, stage: str, columns: Sequence[str], rows: Iterable[tuple]
    ) -> None:
        # Converting only the columns that need it keeps a 100,000-row sync from spending
        # seconds on isinstance checks.
        converted = [i for i, column in enumerate(columns) if column in CONVERTED_COLUMNS]

        def adapted(row: tuple) -> list[Any]:
            values = list(row)
            for i in converted:
                values[i] = self.param(values[i])
            return values

        marks = ", ".join("?" for _ in columns)
        conn.executemany(
            f"INSERT INTO temp.{stage} ({', '.join(columns)}) VALUES ({marks})",
            map(adapted, rows),
        )

    def drop_stage(self, conn: sqlite3.Connection, stage: str) -> None:
        conn.execute(f"DROP TABLE IF EXISTS temp.{stage}")

    def executemany(self, conn: sqlite3.Connection, sql: str, rows: Iterable[tuple]) -> int:
        cursor = conn.executemany(sql, (tuple(self.param(v) for v in row) for row in rows))
        return cursor.rowcount

    def param(self, value: Any) -> Any:
        # Fixed-width ISO text sorts chronologically, which keyset paging relies on.
        if isinstance(value, datetime):
            return value.isoformat(sep=" ", timespec="microseconds")
        if isinstance(value, Decimal):
            return str(value)
        return value

    def timestamp(self, value: Any) -> datetime | None:
        return None if value is None else datetime.fromisoformat(value)

    def json_param(self, document: dict[str, Any]) -> str:
        return json.dumps(document, sort_keys=True)

    def json_value(self, value: Any) -> Any:
        return None if value is None else json.loads(value)


class PostgresBackend:
    """PostgreSQL by DSN, the local stand-in for Lakebase."""

    name = "postgresql"
    distinct_from = "IS DISTINCT FROM"
    # A search's count(*) runs on parallel workers and its newest-first page stops at a page of
    # matches: faster than one scan kept to a single process by its LIMIT (350 + 50 ms against
    # 475 ms at a million rows).
    search_in_one_scan = False
    types = {
        "ts": "TIMESTAMP",
        "json": "JSONB",
        "serial_pk": "SERIAL PRIMARY KEY",
        "now": "(now() AT TIME ZONE 'utc')",
    }

    def __init__(self, dsn: str, password: Callable[[], str] | None = None) -> None:
        import psycopg

        self.driver_errors: tuple[type[Exception], ...] = (psycopg.Error,)
        self.dsn = dsn
        #: asked for a password on every connection (Lakebase's OAuth tokens last an hour: a
        #: reconnect hours later needs a fresh one); None: the DSN's, or where libpq looks
        self.password = password

    def exists(self) -> bool:
        return True

    def describe(self) -> str:
        """The DSN without its password, safe to show and log."""
        from psycopg.conninfo import conninfo_to_dict

        parts = conninfo_to_dict(self.dsn)
        host = parts.get("host") or "localhost"
        port = parts.get("port") or "5432"
        user = f"{parts['user']}@" if parts.get("user") else ""
        return f"postgresql://{user}{host}:{port}/{parts.get('dbname') or ''}"

    def connect(self) -> psycopg.Connection:
        # Autocommit: each read sees the latest committed data, writes use explicit transactions.
        import psycopg

        fresh = {} if self.password is None else {"password": self.password()}
        return psycopg.connect(
            self.dsn, autocommit=True, connect_timeout=BUSY_TIMEOUT_SECONDS, **fresh
        )

    def sql(self, text: str) -> str:
        return text.replace("?", "%s")

    def schema_ddl(self, conn: psycopg.Connection) -> list[str]:
        """The schemas not there yet (creating one needs a right that using it does not)."""
        present = {
            row[0]
            for row in conn.execute(
                "SELECT nspname FROM pg_namespace WHERE nspname = ANY(%s)", (list(SCHEMAS),)
            )
        }
        return [f"CREATE SCHEMA IF NOT EXISTS {s}" for s in SCHEMAS if s not in present]

    def schema_objects(self, conn: psycopg.Connection) -> set[str]:
        """The tables and indexes there are, as `schema.name`."""
        rows = conn.execute(
            "SELECT schemaname || '.' || tablename FROM pg_tables WHERE schemaname = ANY(%s) "
            "UNION ALL "
            "SELECT schemaname || '.' || indexname FROM pg_indexes WHERE schemaname = ANY(%s)",
            (list(SCHEMAS), list(SCHEMAS)),
        )
        return {name for (name,) in rows}

    def index_ddl(self, schema: str, table: str, name: str, columns: str) -> str:
        return f"CREATE INDEX IF NOT EXISTS {name} ON {schema}.{table} ({columns})"

    def view_ddl(self, schema: str, view: str, table: str, columns: Sequence[str]) -> str:
        return f"CREATE VIEW {schema}.{view} AS SELECT {', '.join(columns)} FROM {schema}.{table}"

    def replace_view_ddl(
        self, schema: str, view: str, table: str, columns: Sequence[str]
    ) -> list[str]:
        """In place, keeping what was granted on it (new columns must come last)."""
        return [
            self.view_ddl(schema, view, table, columns).replace("CREATE", "CREATE OR REPLACE", 1)
        ]

    def owns(self, conn: psycopg.Connection, schema: str, name: str) -> bool:
        """Whether this role may alter the relation: it is a member of its owner."""
        row = conn.execute(
            "SELECT pg_has_role(c.relowner, 'MEMBER') FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relname = %s",
            (schema, name),
        ).fetchone()
        return bool(row and row[0])

    def relation(self, conn: psycopg.Connection, schema: str, name: str) -> Relation | None:
        row = conn.execute(
            "SELECT c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relname = %s AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'i')",
            (schema, name),
        ).fetchone()
        if row is None:
            return None
        columns = conn.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position",
            (schema, name),
        ).fetchall()
        kind = {"v": "view", "m": "view", "i": "index"}.get(row[0], "table")
        return Relation(kind, tuple(c[0] for c in columns))

    def lower_like(self, column: str) -> str:
        """`lower(column) LIKE ?`, for a lower-case pattern."""
        return f"lower({column}) LIKE ? ESCAPE '\\'"

    @contextmanager
    def schema_transaction(self, conn: psycopg.Connection) -> Iterator[None]:
        # Two processes starting at once would race on CREATE ... IF NOT EXISTS; the advisory
        # lock makes the second wait for the first and then find everything in place.
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(hashtext('casper.appstore.schema'))")
            yield

    @contextmanager
    def write_transaction(self, conn: psycopg.Connection, lock_table: str) -> Iterator[None]:
        # The table lock serialises writers of the same table (two syncs, or two bulk accepts)
        # the way SQLite's file lock does, while readers carry on.
        with conn.transaction():
            self.lock_table(conn, lock_table)
            yield

    def lock_table(self, conn: psycopg.Connection, table: str) -> None:
        """Within a transaction: wait for, then keep out, the table's other writers."""
        conn.execute(f"LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE")

    def refresh_statistics(self, conn: psycopg.Connection, table: str) -> None:
        """The planner's statistics of `table`, sampled afresh. Planned on none, a freshly filled
        table's filtered page sorts every matching row (half a second at a million) instead of
        reading the newest-first index until a page is full (a millisecond)."""
        conn.execute(f"ANALYZE {table}")

    @contextmanager
    def read_snapshot(self, conn: psycopg.Connection) -> Iterator[None]:
        with conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            yield

    def create_stage(self, conn: psycopg.Connection, stage: str, like: str) -> None:
        conn.execute(
            f"CREATE TEMP TABLE {stage} ON COMMIT DROP AS SELECT * FROM {like} WHERE 1 = 0"
        )

    def load_stage(
        self, conn: psycopg.Connection, stage: str, columns: Sequence[str], rows: Iterable[tuple]
    ) -> None:
        with (
            conn.cursor() as cursor,
            cursor.copy(f"COPY {stage} ({', '.join(columns)}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)

    def drop_stage(self, conn: psycopg.Connection, stage: str) -> None:
        del conn, stage  # ON COMMIT DROP

    def executemany(self, conn: psycopg.Connection, sql: str, rows: Iterable[tuple]) -> int:
        with conn.cursor() as cursor:
            cursor.executemany(sql, list(rows))
            return cursor.rowcount

    def param(self, value: Any) -> Any:
        return value

    def timestamp(self, value: Any) -> datetime | None:
        return value

    def json_param(self, document: dict[str, Any]) -> Jsonb:
        from psycopg.types.json import Jsonb

        return Jsonb(document)

    def json_value(self, value: Any) -> Any:
        return value


Backend = SqliteBackend | PostgresBackend
