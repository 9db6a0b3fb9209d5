/* Silver: one row per order that has an order_created event, appended once, in the run that first
   sees the order (@new_batches, as the staging models). The record that counts is the first to land:
   the earliest landing batch holding an order_created of the order, and within that batch the
   earliest by (ts, event_id), ties broken by the landing file and record number. A record landing
   later (a re-landed copy, or a conflicting duplicate) never rewrites an order already counted, so
   silver, gold_order_header and the numbers a manager has seen do not change after the fact.
   Events of orders without order_created stay in bronze only. (source_file, record_no) is the landed
   record that counts; batch_no its landing batch. */
MODEL (
  name lakeflow.silver_orders,
  kind INCREMENTAL_UNMANAGED,
  columns (
    order_id VARCHAR,
    event_id VARCHAR,
    gk_id VARCHAR,
    location VARCHAR,
    order_ts TIMESTAMP,
    order_day DATE,
    customer_lat DOUBLE,
    customer_lon DOUBLE,
    customer_addr VARCHAR,
    source_file VARCHAR,
    record_no BIGINT,
    batch_no BIGINT
  ),
  grain order_id,
  audits (
    contract(not_null := (order_id, event_id, gk_id, location, order_ts, order_day, source_file, record_no, batch_no), grain := (order_id))
  ),
  description 'Silver: one row per order that has an order_created event: where, when, who.'
);

WITH arrived AS (
  SELECT DISTINCT
    order_id
  FROM lakeflow.stg_order_created
  WHERE
    @new_batches(lakeflow.silver_orders)
), ranked AS (
  SELECT
    created.order_id,
    created.event_id,
    created.gk_id,
    created.location,
    created.ts,
    created.customer_lat,
    created.customer_lon,
    created.customer_addr,
    created.source_file,
    created.record_no,
    created.batch_no,
    ROW_NUMBER() OVER (
      PARTITION BY created.order_id
      ORDER BY created.batch_no, created.ts, created.event_id, created.source_file, created.record_no
    ) AS pick
  FROM lakeflow.stg_order_created AS created
  WHERE
    created.order_id IN (
      SELECT
        order_id
      FROM arrived
    )
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
  record_no::BIGINT AS record_no,
  batch_no::BIGINT AS batch_no
FROM ranked
WHERE
  pick = 1 AND @new_batches(lakeflow.silver_orders) /* an order counted in an earlier run keeps its row */
