/* Silver: one row per order that has an order_created event. If an order has several order_created
   records (a re-landed copy, or a conflicting duplicate), the earliest by (ts, event_id) counts (ties
   broken by the landing file and record number) and the others are ignored from here on. Events of
   orders without order_created stay in bronze only. (source_file, record_no) is the landed record
   that counts. */
MODEL (
  name lakeflow.silver_orders,
  kind FULL,
  grain order_id,
  audits (contract(not_null := (order_id, event_id, gk_id, location, order_ts, order_day, source_file, record_no), grain := (order_id))),
  description 'Silver: one row per order that has an order_created event: where, when, who.'
);

WITH ranked AS (
  SELECT
    order_id,
    event_id,
    gk_id,
    location,
    ts,
    customer_lat,
    customer_lon,
    customer_addr,
    source_file,
    record_no,
    ROW_NUMBER() OVER (PARTITION BY order_id ORDER BY ts, event_id, source_file, record_no) AS pick
  FROM lakeflow.stg_order_created
)
SELECT
  order_id::VARCHAR AS order_id,
  event_id::VARCHAR AS event_id,
  gk_id::VARCHAR AS gk_id,
  location::VARCHAR AS location,
  ts::TIMESTAMP AS order_ts,
  ts::DATE AS order_day,
  customer_lat::DOUBLE AS customer_lat,
  customer_lon::DOUBLE AS customer_lon,
  customer_addr::VARCHAR AS customer_addr,
  source_file::VARCHAR AS source_file,
  record_no::BIGINT AS record_no
FROM ranked
WHERE
  pick = 1
