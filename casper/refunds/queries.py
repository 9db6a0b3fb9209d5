"""The refund side's SQL, written once in the DuckDB dialect (like the models) and rendered for each
engine's dialect with sqlglot. Engines run the rendered text; none keeps a twin.

Parameters are `:name` placeholders, replaced by literals when rendering; relation names an engine
binds per call (a registered frame, a temporary view) are replaced by name (`tables`).
"""

from __future__ import annotations

import datetime as dt
from functools import cache
from typing import TYPE_CHECKING, Any

from casper.refunds import RECOMMENDATION_COLUMNS

if TYPE_CHECKING:  # sqlglot loads with the first statement that needs rendering
    from sqlglot import exp

RECOMMENDATIONS = "recommender.refund_recommendations"
ORDERS = "ai.order_delivery_times"

RECOMMENDATIONS_SCHEMA_DDL = "CREATE SCHEMA IF NOT EXISTS recommender"
#: the recommendations table; DuckDB enforces the primary key, Spark's parquet and Delta tables
#: cannot, so their append skips the pairs already there instead
RECOMMENDATIONS_DDL = f"""
CREATE TABLE IF NOT EXISTS {RECOMMENDATIONS} (
    order_id VARCHAR NOT NULL,
    ts TIMESTAMP NOT NULL,
    agent_response VARCHAR NOT NULL,
    refund_class VARCHAR NOT NULL,
    refund_usd DOUBLE NOT NULL,
    reason VARCHAR NOT NULL,
    model_version VARCHAR NOT NULL,
    location VARCHAR,
    delivered_ts TIMESTAMP,
    order_ts TIMESTAMP,
    PRIMARY KEY (order_id, model_version)
)
"""
#: a recommendations table made before order_ts existed gets the column (NULL in its old rows:
#: FRESH_RECOMMENDATIONS takes those from the order); each engine says it in its own ALTER TABLE
RECOMMENDATIONS_ADDED_COLUMNS = {"order_ts": "TIMESTAMP"}

# the refund model's view of an order (casper.refunds.scoring.SCORING_INPUT)
_FEATURES = """
    d.order_id, d.location, d.delivery_minutes, CAST(d.order_revenue AS DOUBLE) AS order_total,
    d.distance_km, CAST(d.total_items AS DOUBLE) AS total_items,
    CAST(hour(d.created_ts) AS DOUBLE) AS created_hour, d.delivered_ts
"""

#: delivered orders of each location's last :window_days of deliveries (training data)
DELIVERED_ORDERS = f"""
SELECT order_id, location, delivery_minutes, order_total, distance_km, total_items, created_hour,
       delivered_ts
FROM (
  SELECT {_FEATURES}, max(d.delivered_ts) OVER (PARTITION BY d.location) AS newest
  FROM {ORDERS} AS d
  WHERE d.delivered_ts IS NOT NULL AND d.delivery_minutes >= 0
) AS delivered
WHERE date_diff('microsecond', delivered_ts, newest) <= CAST(:window_days * 86400000000 AS BIGINT)
ORDER BY location, delivered_ts, order_id
"""

#: delivered orders that model version :version has not scored yet, with when each was created
UNSCORED_ORDERS = f"""
SELECT {_FEATURES}, d.created_ts AS order_ts
FROM {ORDERS} AS d
WHERE d.delivered_ts IS NOT NULL
  AND NOT EXISTS (
    SELECT 1 FROM {RECOMMENDATIONS} AS r
    WHERE r.order_id = d.order_id AND r.model_version = :version
  )
ORDER BY d.delivered_ts, d.order_id
"""

#: the features of the delivered orders in the relation `wanted` (order_id)
ORDER_FEATURES = f"""
SELECT {_FEATURES}
FROM {ORDERS} AS d
WHERE d.delivered_ts IS NOT NULL AND d.order_id IN (SELECT order_id FROM wanted)
"""

#: recommendations scored at or after :since (NULL: all), the newest per order; a row scored
#: before the table had order_ts takes it from the order (ai.order_delivery_times.created_ts)
FRESH_RECOMMENDATIONS = f"""
SELECT {", ".join(f"ranked.{c}" for c in RECOMMENDATION_COLUMNS if c != "order_ts")},
       coalesce(ranked.order_ts, o.created_ts) AS order_ts
FROM (
  SELECT *, row_number() OVER (
    PARTITION BY order_id ORDER BY ts DESC, TRY_CAST(model_version AS BIGINT) DESC NULLS LAST
  ) AS pick
  FROM {RECOMMENDATIONS}
  WHERE :since IS NULL OR ts >= CAST(:since AS TIMESTAMP)
) AS ranked
LEFT JOIN {ORDERS} AS o ON o.order_id = ranked.order_id
WHERE ranked.pick = 1
"""

#: what a synced recommendation carries into the app store
SYNC_RECOMMENDATION_COLUMNS = tuple(c for c in RECOMMENDATION_COLUMNS if c != "delivered_ts")

#: what the review app shows about each order in the relation `fresh` (order_id): its timeline,
#: basket and route as JSON documents, with the location's delivery-time percentiles
SYNC_CONTEXT = """
WITH fresh_orders AS (SELECT DISTINCT order_id FROM fresh),
events AS (
  SELECT e.order_id, e.sequence, e.event_type, e.ts, e.event_id, e.body,
         row_number() OVER (PARTITION BY e.event_id ORDER BY e.ts, e.source_file) AS copy_no
  FROM lakeflow.all_events AS e
  WHERE e.order_id IN (SELECT order_id FROM fresh_orders)
),
timeline AS (
  SELECT order_id,
         to_json(list_transform(
           list_sort(list({'sequence': sequence, 'ts': ts, 'event_type': event_type})),
           x -> {'sequence': x.sequence, 'event_type': x.event_type,
                 'ts': strftime(x.ts, '%Y-%m-%d %H:%M:%S.%f')})) AS events
  FROM events
  WHERE copy_no = 1 AND event_type <> 'driver_ping'
  GROUP BY order_id
),
basket AS (
  SELECT s.order_id,
         to_json(list_transform(
           list_sort(list({'brand_id': s.brand_id, 'item_id': s.item_id, 'name': s.item_name,
                           'brand': b.name, 'price': CAST(s.price AS DOUBLE), 'qty': s.qty})),
           x -> {'name': x.name, 'brand': x.brand, 'price': x.price, 'qty': x.qty})) AS items
  FROM lakeflow.silver_order_items AS s
  LEFT JOIN simulator.brands AS b ON b.brand_id = s.brand_id
  WHERE s.order_id IN (SELECT order_id FROM fresh_orders)
  GROUP BY s.order_id
),
route AS (
  SELECT order_id, route
  FROM (
    SELECT order_id, CAST(json_extract(body, '$.route_points') AS VARCHAR) AS route,
           row_number() OVER (PARTITION BY order_id ORDER BY ts, event_id) AS pick
    FROM events
    WHERE event_type = 'driver_picked_up'
  ) AS pickups
  WHERE pick = 1
)
SELECT d.order_id, d.location, d.location AS location_title,
       CAST(d.order_revenue AS DOUBLE) AS order_total, d.delivery_minutes,
       t.p50, t.p75, t.p99, d.created_ts,
       coalesce(timeline.events, '[]') AS events,
       coalesce(basket.items, '[]') AS items,
       coalesce(route.route, '[]') AS route
FROM ai.order_delivery_times AS d
LEFT JOIN ai.location_timings AS t ON t.location = d.location
LEFT JOIN timeline ON timeline.order_id = d.order_id
LEFT JOIN basket ON basket.order_id = d.order_id
LEFT JOIN route ON route.order_id = d.order_id
WHERE d.order_id IN (SELECT order_id FROM fresh_orders)
ORDER BY d.order_id
"""

#: bronze rows of an order whose order_created is in bronze, in files holding none of its
#: order_created: late events (the pipeline joins them when they arrive). One aggregation by
#: (order, file), ~5x cheaper than a count of distinct events (a re-landed late event counts twice)
LATE_EVENTS = """
WITH files AS (
  SELECT order_id, COUNT(*) AS n,
         MAX(CASE WHEN event_type = 'order_created' THEN 1 ELSE 0 END) AS created
  FROM lakeflow.all_events
  GROUP BY order_id, source_file
)
SELECT COALESCE(SUM(n), 0) FROM files
WHERE created = 0 AND order_id IN (SELECT order_id FROM files WHERE created = 1)
"""

#: what `casper status` counts in the warehouse; a table not built yet counts 0
COUNTS = {
    "bronze_events": "SELECT COUNT(*) FROM lakeflow.all_events",
    "quarantined": "SELECT COUNT(*) FROM lakeflow.quarantine",
    # the data-quality answers: lines that were not JSON, bronze rows of an event_id already in
    # bronze (re-landed: silver counts them once), late events (joined when they land)
    "quarantined_invalid_json": (
        "SELECT COUNT(*) FROM lakeflow.quarantine WHERE reason = 'invalid_json'"
    ),
    "duplicate_events": "SELECT COUNT(*) - COUNT(DISTINCT event_id) FROM lakeflow.all_events",
    "late_events": LATE_EVENTS,
    "orders": f"SELECT COUNT(*) FROM {ORDERS}",
    "delivered_orders": f"SELECT COUNT(*) FROM {ORDERS} WHERE delivered_ts IS NOT NULL",
    "recommendations": f"SELECT COUNT(DISTINCT order_id) FROM {RECOMMENDATIONS}",
}


def naive_utc_text(moment: dt.datetime | None) -> str | None:
    """A :since parameter: event and scoring times are naive UTC in the warehouse."""
    if moment is None:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
    return moment.isoformat(sep=" ")


@cache
def _parsed(sql: str) -> exp.Expression:
    from sqlglot import parse_one

    return parse_one(sql, dialect="duckdb")


def _keep_json_nulls(node: exp.Expression) -> exp.Expression:
    """DuckDB's to_json writes null fields; Spark's drops them unless told otherwise."""
    from sqlglot import exp

    if (
        isinstance(node, exp.Anonymous)
        and node.name.lower() == "to_json"
        and len(node.expressions) == 1
    ):
        options = exp.Anonymous(
            this="map",
            expressions=[exp.Literal.string("ignoreNullFields"), exp.Literal.string("false")],
        )
        return exp.Anonymous(this="to_json", expressions=[node.expressions[0], options])
    return node


def render(sql: str, dialect: str, *, tables: dict[str, str] | None = None, **params: Any) -> str:
    """`sql` (DuckDB dialect) for `dialect`, with `:name` placeholders and relation names bound.
    DuckDB SQL with nothing to bind is the text as written (no sqlglot: `casper status` stays quick)."""
    if dialect == "duckdb" and not params and not tables:
        return sql
    from sqlglot import exp

    expression = _parsed(sql).copy()
    if params:
        bound = {name: exp.null() if value is None else value for name, value in params.items()}
        expression = exp.replace_placeholders(expression, **bound)
    if tables:
        expression = exp.replace_tables(expression, tables)
    if dialect in ("spark", "databricks"):
        expression = expression.transform(_keep_json_nulls)
        if isinstance(expression, exp.Create):
            # no enforced primary key there; tables get their format from the engine's defaults
            for key in list(expression.find_all(exp.PrimaryKey)):
                key.pop()
    return expression.sql(dialect=dialect)
