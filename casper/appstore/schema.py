"""The app store's tables, rendered for either backend.

`recommender.app_recommendations` is the synced copy of the warehouse's refund_recommendations, keyed
by order_id, with the suggestion parsed once at sync time so the list can filter and sum by class.
`recommender.order_context` holds what the detail screen shows about the order. `refunds.refund_decisions`
has the reference's columns and constraints.

`recommender.pg_recommendations` is the reference's name (SPEC.md section 5) for the synced copy. On
Lakebase it is the synced table Databricks keeps from refund_recommendations (its columns are that
table's, so it cannot hold ours: engines/databricks/lakebase.py); in a store of our own it is a view
over app_recommendations with the columns both share, so queries written for the reference read it
on every engine. A store made before the split, whose pg_recommendations was this table, is
migrated by renaming it.
"""

from __future__ import annotations

import re
from typing import Any

from casper.appstore.backends import Backend

RECOMMENDATIONS = "recommender.app_recommendations"
REFERENCE_RECOMMENDATIONS = "recommender.pg_recommendations"
CONTEXT = "recommender.order_context"
DECISIONS = "refunds.refund_decisions"

# Columns copied from the warehouse; a difference in any of them means the recommendation changed.
RECOMMENDATION_SOURCE_COLUMNS = ("ts", "agent_response", "model_version", "location")
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
CREATE TABLE IF NOT EXISTS recommender.app_recommendations (
    order_id TEXT PRIMARY KEY,
    ts {ts} NOT NULL,
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
CREATE TABLE IF NOT EXISTS recommender.order_context (
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
CREATE TABLE IF NOT EXISTS refunds.refund_decisions (
    id {serial_pk},
    order_id TEXT NOT NULL,
    decided_ts {ts} NOT NULL DEFAULT {now},
    amount_usd NUMERIC(10, 2) NOT NULL
        CHECK (amount_usd >= 0 AND amount_usd = round(amount_usd, 2)),
    refund_class TEXT NOT NULL CHECK (refund_class IN ('none', 'partial', 'full')),
    reason TEXT NOT NULL,
    decided_by TEXT,
    source_suggestion {json}
)
"""

# (schema, table, index name, columns): newest-first paging, each list filter, change polling,
# and "the latest decision of an order".
_INDEXES = (
    # (the index names are those of the table's first name: a migrated store keeps its indexes)
    ("recommender", "app_recommendations", "pg_recommendations_ts", "ts, order_id"),
    (
        "recommender",
        "app_recommendations",
        "pg_recommendations_location_ts",
        "location, ts, order_id",
    ),
    (
        "recommender",
        "app_recommendations",
        "pg_recommendations_class_ts",
        "suggested_class, ts, order_id",
    ),
    ("recommender", "app_recommendations", "pg_recommendations_sync_batch", "sync_batch"),
    ("refunds", "refund_decisions", "refund_decisions_order_id", "order_id, id"),
)


def reviewer_grants(role: str) -> list[str]:
    """PostgreSQL statements giving `role` what the review app needs in a store another role made
    (on Lakebase: the Databricks App's identity, the tables being the sync job's): read
    everything, add decisions. UPDATE only because a decision's write transaction locks the table
    against other writers, which PostgreSQL allows a role that may change it."""
    quoted = '"' + role.replace('"', '""') + '"'
    return [
        f"GRANT USAGE ON SCHEMA recommender, refunds TO {quoted}",
        f"GRANT SELECT ON ALL TABLES IN SCHEMA recommender TO {quoted}",
        f"GRANT SELECT, INSERT, UPDATE ON {DECISIONS} TO {quoted}",
        f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA refunds TO {quoted}",
    ]


_CREATED = re.compile(r"CREATE TABLE IF NOT EXISTS (\w+)\.(\w+)")
#: what the reference's queries read: the columns its synced table and ours share
REFERENCE_COLUMNS = ("order_id", "ts", "agent_response", "model_version", "location")


def create_missing(conn: Any, backend: Backend) -> None:
    """Create what is missing (inside the backend's schema transaction), and only that: a reader
    such as the Databricks App may use tables another identity made, with no right to alter
    them. The schemas; our first table renamed if the store predates app_recommendations; the
    tables and indexes; the reference's view, unless a relation of that name (Lakebase's synced
    table) is there."""
    for statement in backend.schema_ddl(conn):
        conn.execute(statement)
    old = backend.relation(conn, "recommender", "pg_recommendations")
    if (
        old is not None
        and old.kind == "table"
        and "sync_batch" in old.columns  # ours, not a synced table
        and backend.relation(conn, "recommender", "app_recommendations") is None
    ):
        conn.execute("ALTER TABLE recommender.pg_recommendations RENAME TO app_recommendations")
    for statement in _TABLES.format(**backend.types).split(";"):
        schema, table = _CREATED.search(statement).group(1, 2)
        if backend.relation(conn, schema, table) is None:
            conn.execute(statement.strip())
    for schema, table, name, columns in _INDEXES:
        if backend.relation(conn, schema, name) is None:
            conn.execute(backend.index_ddl(schema, table, name, columns))
    if backend.relation(conn, "recommender", "pg_recommendations") is None:
        conn.execute(
            backend.view_ddl(
                "recommender", "pg_recommendations", "app_recommendations", REFERENCE_COLUMNS
            )
        )
