/* One row per order that has order_created (lakeflow.silver_orders): its lifecycle timestamps, delivery
   time and route length. A step's timestamp is the earliest event of that type for the order (so a
   re-landed event changes nothing); NULL while the step has not happened (delivered_ts NULL while the
   order is on its way). distance_km is the route length of the order's first driver_picked_up event
   (by ts, event_id): the sum of the great-circle lengths of its consecutive route_points segments,
   computed once per event in lakeflow.stg_pickup_routes (NULL when the route is missing or nulled by
   DQ injection). order_revenue and total_items come from
   lakeflow.gold_order_header (NULL when the order has no valid item). Step timestamps come from
   lakeflow.stg_order_steps (per-batch minimums, so this model does not rescan bronze). */
MODEL (
  name ai.order_delivery_times,
  kind FULL,
  grain order_id,
  audits (
    contract(
      not_null := (order_id, location, gk_id, created_ts),
      grain := (order_id),
      non_negative := (order_revenue, total_items, distance_km)
    )
  ),
  description 'Per order: lifecycle timestamps, delivery minutes (delivered - created), route km, revenue.'
);

WITH steps AS (
  SELECT
    order_id,
    MIN(started_ts) AS started_ts,
    MIN(finished_ts) AS finished_ts,
    MIN(ready_ts) AS ready_ts,
    MIN(driver_arrived_ts) AS driver_arrived_ts,
    MIN(picked_up_ts) AS picked_up_ts,
    MIN(delivered_ts) AS delivered_ts
  FROM lakeflow.stg_order_steps
  GROUP BY
    order_id
), routes AS (
  SELECT
    order_id,
    route_km,
    ROW_NUMBER() OVER (PARTITION BY order_id ORDER BY ts, event_id) AS pick
  FROM lakeflow.stg_pickup_routes
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
  h.order_revenue::DECIMAL(18, 2) AS order_revenue,
  h.total_items::BIGINT AS total_items,
  o.customer_lat::DOUBLE AS customer_lat,
  o.customer_lon::DOUBLE AS customer_lon
FROM lakeflow.silver_orders AS o
LEFT JOIN steps AS s
  ON s.order_id = o.order_id
LEFT JOIN routes AS r
  ON r.order_id = o.order_id AND r.pick = 1
LEFT JOIN lakeflow.gold_order_header AS h
  ON h.order_id = o.order_id
