/* Staging, append-only: per landing batch and order, the earliest timestamp of each lifecycle step
   (order_created and driver_ping excluded). MIN is decomposable, so ai.order_delivery_times takes the
   MIN over batches instead of scanning every bronze event on every run (batch_no watermark, as
   lakeflow.stg_order_created). */
MODEL (
  name lakeflow.stg_order_steps,
  kind INCREMENTAL_UNMANAGED,
  columns (
    order_id VARCHAR,
    started_ts TIMESTAMP,
    finished_ts TIMESTAMP,
    ready_ts TIMESTAMP,
    driver_arrived_ts TIMESTAMP,
    picked_up_ts TIMESTAMP,
    delivered_ts TIMESTAMP,
    batch_no BIGINT
  ),
  audits (contract(not_null := (order_id, batch_no), grain := (order_id, batch_no))),
  description 'Staging: earliest lifecycle step timestamps per order and landing batch.'
);

SELECT
  order_id::VARCHAR AS order_id,
  MIN(CASE WHEN event_type = 'gk_started' THEN ts END)::TIMESTAMP AS started_ts,
  MIN(CASE WHEN event_type = 'gk_finished' THEN ts END)::TIMESTAMP AS finished_ts,
  MIN(CASE WHEN event_type = 'gk_ready' THEN ts END)::TIMESTAMP AS ready_ts,
  MIN(CASE WHEN event_type = 'driver_arrived' THEN ts END)::TIMESTAMP AS driver_arrived_ts,
  MIN(CASE WHEN event_type = 'driver_picked_up' THEN ts END)::TIMESTAMP AS picked_up_ts,
  MIN(CASE WHEN event_type = 'delivered' THEN ts END)::TIMESTAMP AS delivered_ts,
  batch_no::BIGINT AS batch_no
FROM lakeflow.landing_records
WHERE
  record_kind = 'event'
  AND event_type IN ('gk_started', 'gk_finished', 'gk_ready', 'driver_arrived', 'driver_picked_up', 'delivered')
  AND @new_batches(lakeflow.stg_order_steps)
GROUP BY
  order_id,
  batch_no
