"""The app store's tables, rendered for either backend.

Every table is named once, by the constants below, and the DDL refers to them.

`recommender.app_recommendations` is the synced copy of the warehouse's refund_recommendations, keyed
by order_id, with the suggestion parsed once at sync time so the list can filter and sum by class.
`recommender.order_context` holds what the detail screen shows about the order. `refunds.refund_decisions`
has the reference's columns and constraints.

`recommender.pg_recommendations` is the reference's name (SPEC.md section 5) for the synced copy. On
Lakebase it is the synced table Databricks keeps from refund_recommendations (its columns are that
table's, so it cannot hold ours: engines/databricks/lakebase.py); in a store of our own it is a view
over app_recommendations with the columns both share, so queries written for the reference read it
on every engine: the reference's order_id, ts, order_ts (when the order was created) and
agent_response, and model_version and location. A store made before the split, whose
pg_recommendations was this table, is migrated by renaming it (its indexes are made again under the
new name); one made before order_ts gets the column, filled from each order's context
(order_context.created_ts, the order_created event's time), and the view is made again with it.

Two small tables keep the list's figures so that no screen counts a million rows:
`recommender.recommendation_counts` holds the recommendations and their suggested amount (in cents)
by suggested class and location, kept by the sync in the transaction that changes the
recommendations; `refunds.decision_counts` holds the decided orders and their decided amount by the
class of each order's latest decision, kept by every decision's transaction. Each lives in its own
table's schema (on SQLite, its file), so it commits with the rows it counts. A key is present only
while its count is above zero.
"""

from __future__ import annotations

import re
from typing import Any

from casper.appstore.backends import Backend

RECOMMENDATIONS = "recommender.app_recommendations"
REFERENCE_RECOMMENDATIONS = "recommender.pg_recommendations"
CONTEXT = "recommender.order_context"
DECISIONS = "refunds.refund_decisions"
RECOMMENDATION_COUNTS = "recommender.recommendation_counts"
DECISION_COUNTS = "refunds.decision_counts"

# Columns copied from the warehouse; a difference in any of them means the recommendation changed.
RECOMMENDATION_SOURCE_COLUMNS = ("ts", "agent_response", "model_version", "location", "order_ts")
SUGGESTION_COLUMNS = ("suggested_class", "suggested_usd", "suggested_reason", "suggestion_error")
SYNC_COLUMNS = ("sync_batch", "synced_ts")
RECOMMENDATION_COLUMNS = (
    "order_id",
    *RECOMMENDATION_SOURCE_COLUMNS,
    *SUGGESTION_COLUMNS,
    *SYNC_COLUMNS,
)
CONTEXT_COLUMNS = (
    "order_id",
    "location_title",
    "order_total",
    "delivery_minutes",
    "p50",
    "p75",
    "p99",
    "created_ts",
    "events",
    "items",
    "route",
)

_TABLES = """
CREATE TABLE IF NOT EXISTS {recommendations} (
    order_id TEXT PRIMARY KEY,
    ts {ts} NOT NULL,
    order_ts {ts},
    agent_response TEXT,
    model_version TEXT,
    location TEXT,
    suggested_class TEXT NOT NULL
        CHECK (suggested_class IN ('none', 'partial', 'full', 'error')),
    suggested_usd NUMERIC(10, 2) CHECK (suggested_usd >= 0),
    suggested_reason TEXT NOT NULL,
    suggestion_error TEXT,
    sync_batch INTEGER NOT NULL,
    synced_ts {ts} NOT NULL
);
CREATE TABLE IF NOT EXISTS {context} (
    order_id TEXT PRIMARY KEY,
    location_title TEXT,
    order_total NUMERIC(10, 2),
    delivery_minutes DOUBLE PRECISION,
    p50 DOUBLE PRECISION,
    p75 DOUBLE PRECISION,
    p99 DOUBLE PRECISION,
    created_ts {ts},
    events TEXT NOT NULL,
    items TEXT NOT NULL,
    route TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS {decisions} (
    id {serial_pk},
    order_id TEXT NOT NULL,
    decided_ts {ts} NOT NULL DEFAULT {now},
    amount_usd NUMERIC(10, 2) NOT NULL
        CHECK (amount_usd >= 0 AND amount_usd = round(amount_usd, 2)),
    refund_class TEXT NOT NULL CHECK (refund_class IN ('none', 'partial', 'full')),
    reason TEXT NOT NULL,
    decided_by TEXT,
    source_suggestion {json}
);
CREATE TABLE IF NOT EXISTS {recommendation_counts} (
    suggested_class TEXT NOT NULL,
    location TEXT,
    recommendations BIGINT NOT NULL CHECK (recommendations > 0),
    suggested_cents BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS {decision_counts} (
    refund_class TEXT PRIMARY KEY,
    orders BIGINT NOT NULL CHECK (orders > 0),
    amount_cents BIGINT NOT NULL
)
"""

# (table, index name suffix, columns): newest-first paging, each list filter, change polling, and
# "the latest decision of an order". An index is named after its table: app_recommendations_ts.
_INDEXES = (
    (RECOMMENDATIONS, "ts", "ts, order_id"),
    (RECOMMENDATIONS, "location_ts", "location, ts, order_id"),
    (RECOMMENDATIONS, "class_ts", "suggested_class, ts, order_id"),
    # both filters at once: a page, or the decided orders counted among the matching rows, reads
    # the rows that match both rather than those of one, checking the other
    (RECOMMENDATIONS, "location_class_ts", "location, suggested_class, ts, order_id"),
    (RECOMMENDATIONS, "sync_batch", "sync_batch"),
    (DECISIONS, "order_id", "order_id, id"),
)


def split_name(table: str) -> tuple[str, str]:
    """`schema.table` as (schema, table)."""
    schema, _, name = table.partition(".")
    return schema, name


def _index_ddl(backend: Backend, table: str, suffix: str, columns: str) -> str:
    schema, name = split_name(table)
    return backend.index_ddl(schema, name, f"{name}_{suffix}", columns)


def schema_objects() -> set[str]:
    """The tables and indexes the statements make, each as `schema.name`."""
    tables = {RECOMMENDATIONS, CONTEXT, DECISIONS, RECOMMENDATION_COUNTS, DECISION_COUNTS}
    indexes = set()
    for table, suffix, _ in _INDEXES:
        schema, name = split_name(table)
        indexes.add(f"{schema}.{name}_{suffix}")
    return tables | indexes


def reviewer_grants(role: str) -> list[str]:
    """PostgreSQL statements giving `role` what the review app needs in a store another role made
    (on Lakebase: the Databricks App's identity, the tables being the sync job's): read
    everything, add decisions and keep their counts. UPDATE on the decisions only because a
    decision's write transaction locks the table against other writers, which PostgreSQL allows a
    role that may change it."""
    quoted = '"' + role.replace('"', '""') + '"'
    return [
        f"GRANT USAGE ON SCHEMA recommender, refunds TO {quoted}",
        f"GRANT SELECT ON ALL TABLES IN SCHEMA recommender TO {quoted}",
        f"GRANT SELECT, INSERT, UPDATE ON {DECISIONS} TO {quoted}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON {DECISION_COUNTS} TO {quoted}",
        f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA refunds TO {quoted}",
    ]


_CREATED = re.compile(r"CREATE TABLE IF NOT EXISTS (\w+)\.(\w+)")
#: what the reference's queries read: the columns its synced table and ours share (order_ts last:
#: PostgreSQL replaces a view in place only with its new columns at the end)
REFERENCE_COLUMNS = ("order_id", "ts", "agent_response", "model_version", "location", "order_ts")
#: columns app_recommendations gained after stores were made: (name, type key, how old rows fill it)
_ADDED_COLUMNS = (
    (
        "order_ts",
        "ts",
        f"UPDATE {RECOMMENDATIONS} AS r SET order_ts = c.created_ts FROM {CONTEXT} AS c "
        "WHERE c.order_id = r.order_id AND r.order_ts IS NULL",
    ),
)


def _outdated(conn: Any, backend: Backend) -> tuple[list[tuple[str, str, str]], bool]:
    """What a store made before lacks and this role may change: columns of app_recommendations,
    and whether our pg_recommendations view needs making again. A role that does not own them
    (the review app's, on tables the sync's identity made) leaves them be: it reads neither."""
    columns: list[tuple[str, str, str]] = []
    table = backend.relation(conn, *split_name(RECOMMENDATIONS))
    if table is not None and backend.owns(conn, *split_name(RECOMMENDATIONS)):
        columns = [added for added in _ADDED_COLUMNS if added[0] not in table.columns]
    view = backend.relation(conn, *split_name(REFERENCE_RECOMMENDATIONS))
    stale_view = (
        view is not None
        and view.kind == "view"
        and view.columns != REFERENCE_COLUMNS
        and backend.owns(conn, *split_name(REFERENCE_RECOMMENDATIONS))
    )
    return columns, stale_view


def schema_current(conn: Any, backend: Backend) -> bool:
    """Whether the tables and indexes are all there with every column (catalog reads only)."""
    if not schema_objects() <= backend.schema_objects(conn):
        return False
    columns, stale_view = _outdated(conn, backend)
    return not columns and not stale_view


def create_missing(conn: Any, backend: Backend) -> None:
    """Create what is missing (inside the backend's schema transaction), and only that: a reader
    such as the Databricks App may use tables another identity made, with no right to alter
    them. The schemas; our first table renamed if the store predates app_recommendations; the
    tables, the columns added since a store was made, and indexes; the reference's view, unless a
    relation of that name (Lakebase's synced table) is there."""
    for statement in backend.schema_ddl(conn):
        conn.execute(statement)
    old = backend.relation(conn, *split_name(REFERENCE_RECOMMENDATIONS))
    if (
        old is not None
        and old.kind == "table"
        and "sync_batch" in old.columns  # ours, not a synced table
        and backend.relation(conn, *split_name(RECOMMENDATIONS)) is None
    ):
        schema, old_name = split_name(REFERENCE_RECOMMENDATIONS)
        conn.execute(
            f"ALTER TABLE {REFERENCE_RECOMMENDATIONS} RENAME TO {split_name(RECOMMENDATIONS)[1]}"
        )
        for table, suffix, _ in _INDEXES:  # SQLite cannot rename an index: made again below
            if table == RECOMMENDATIONS:
                conn.execute(f"DROP INDEX IF EXISTS {schema}.{old_name}_{suffix}")
    names = {
        "recommendations": RECOMMENDATIONS,
        "context": CONTEXT,
        "decisions": DECISIONS,
        "recommendation_counts": RECOMMENDATION_COUNTS,
        "decision_counts": DECISION_COUNTS,
    }
    for statement in _TABLES.format(**names, **backend.types).split(";"):
        schema, table = _CREATED.search(statement).group(1, 2)
        if backend.relation(conn, schema, table) is None:
            conn.execute(statement.strip())
    added, stale_view = _outdated(conn, backend)
    for column, type_key, fill in added:
        conn.execute(f"ALTER TABLE {RECOMMENDATIONS} ADD COLUMN {column} {backend.types[type_key]}")
        conn.execute(fill)
    for table, suffix, columns in _INDEXES:
        schema, name = split_name(table)
        if backend.relation(conn, schema, f"{name}_{suffix}") is None:
            conn.execute(_index_ddl(backend, table, suffix, columns))
    schema, view = split_name(REFERENCE_RECOMMENDATIONS)
    if stale_view:
        for statement in backend.replace_view_ddl(
            schema, view, split_name(RECOMMENDATIONS)[1], REFERENCE_COLUMNS
        ):
            conn.execute(statement)
    elif backend.relation(conn, schema, view) is None:
        conn.execute(
            backend.view_ddl(schema, view, split_name(RECOMMENDATIONS)[1], REFERENCE_COLUMNS)
        )
