/* One row per order that has order_created (lakeflow.silver_orders): its lifecycle timestamps, delivery
   time and route length. A step's timestamp is the earliest event of that type for the order (so a
   re-landed event changes nothing); NULL while the step has not happened (delivered_ts NULL while the
   order is on its way). distance_km is the route length of the order's first driver_picked_up event
   (by ts, event_id): the sum of the great-circle lengths of its consecutive route_points segments,
   computed once per event in lakeflow.stg_pickup_routes (NULL when the route is missing or nulled by
   DQ injection). order_revenue and total_items are the order's silver totals (NULL when the order has
   no valid item). Step timestamps come from lakeflow.stg_order_steps (per-batch minimums, so this
   model does not rescan bronze).

   Incremental by order day: a run recomputes, from everything landed, the days (order_day, the
   created day) of the orders that changed since this model's newest batch_no: orders new in silver
   and orders with new step events (a pickup is a step too, so a new route comes with one). Other
   days are left as they are. batch_no is the newest landing batch holding an event of the order
   (its counted order_created, steps, pickups). */
MODEL (
  name ai.order_delivery_times,
  kind INCREMENTAL_BY_PARTITION,
  partitioned_by order_day,
  columns (
    order_id VARCHAR,
    location VARCHAR,
    gk_id VARCHAR,
    created_ts TIMESTAMP,
    started_ts TIMESTAMP,
    finished_ts TIMESTAMP,
    ready_ts TIMESTAMP,
    driver_arrived_ts TIMESTAMP,
    picked_up_ts TIMESTAMP,
    delivered_ts TIMESTAMP,
    delivery_minutes DOUBLE,
    distance_km DOUBLE,
    order_revenue DECIMAL(18, 2),
    total_items BIGINT,
    customer_lat DOUBLE,
    customer_lon DOUBLE,
    batch_no BIGINT,
    order_day DATE
  ),
  grain order_id,
  audits (
    contract(
      not_null := (order_id, location, gk_id, created_ts, order_day, batch_no),
      grain := (order_id),
      non_negative := (order_revenue, total_items, distance_km)
    )
  ),
  description 'Per order: lifecycle timestamps, delivery minutes (delivered - created), route km, revenue.'
);

WITH changed_orders AS (
  SELECT
    order_id
  FROM lakeflow.silver_orders
  WHERE
    @new_batches(ai.order_delivery_times)
  UNION
  SELECT
    order_id
  FROM lakeflow.stg_order_steps
  WHERE
    @new_batches(ai.order_delivery_times)
), orders AS (
  SELECT
    *
  FROM lakeflow.silver_orders
  WHERE
    order_day IN (
      SELECT
        o.order_day
      FROM lakeflow.silver_orders AS o
      JOIN changed_orders AS c
        ON c.order_id = o.order_id
    )
), steps AS (
  SELECT
    order_id,
    MIN(started_ts) AS started_ts,
    MIN(finished_ts) AS finished_ts,
    MIN(ready_ts) AS ready_ts,
    MIN(driver_arrived_ts) AS driver_arrived_ts,
    MIN(picked_up_ts) AS picked_up_ts,
    MIN(delivered_ts) AS delivered_ts,
    MAX(batch_no) AS batch_no
  FROM lakeflow.stg_order_steps
  WHERE
    order_id IN (
      SELECT
        order_id
      FROM orders
    )
  GROUP BY
    order_id
), routes AS (
  SELECT
    order_id,
    route_km,
    ROW_NUMBER() OVER (PARTITION BY order_id ORDER BY ts, event_id) AS pick,
    MAX(batch_no) OVER (PARTITION BY order_id) AS batch_no
  FROM lakeflow.stg_pickup_routes
  WHERE
    order_id IN (
      SELECT
        order_id
      FROM orders
    )
), totals AS (
  SELECT
    order_id,
    SUM(extended_price) AS order_revenue,
    COUNT(*) AS total_items
  FROM lakeflow.silver_order_items
  WHERE
    order_id IN (
      SELECT
        order_id
      FROM orders
    )
  GROUP BY
    order_id
)
SELECT
  o.order_id::VARCHAR AS order_id,
  o.location::VARCHAR AS location,
  o.gk_id::VARCHAR AS gk_id,
  o.order_ts::TIMESTAMP AS created_ts,
  s.started_ts::TIMESTAMP AS started_ts,
  s.finished_ts::TIMESTAMP AS finished_ts,
  s.ready_ts::TIMESTAMP AS ready_ts,
  s.driver_arrived_ts::TIMESTAMP AS driver_arrived_ts,
  s.picked_up_ts::TIMESTAMP AS picked_up_ts,
  s.delivered_ts::TIMESTAMP AS delivered_ts,
  (DATE_DIFF('microsecond', o.order_ts, s.delivered_ts) / 60000000.0)::DOUBLE AS delivery_minutes,
  r.route_km::DOUBLE AS distance_km,
  t.order_revenue::DECIMAL(18, 2) AS order_revenue,
  t.total_items::BIGINT AS total_items,
  o.customer_lat::DOUBLE AS customer_lat,
  o.customer_lon::DOUBLE AS customer_lon,
  GREATEST(o.batch_no, COALESCE(s.batch_no, 0), COALESCE(r.batch_no, 0))::BIGINT AS batch_no,
  o.order_day::DATE AS order_day
FROM orders AS o
LEFT JOIN steps AS s
  ON s.order_id = o.order_id
LEFT JOIN routes AS r
  ON r.order_id = o.order_id AND r.pick = 1
LEFT JOIN totals AS t
  ON t.order_id = o.order_id
