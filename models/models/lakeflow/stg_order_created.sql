/* Staging, append-only: every landed order_created event with its customer fields parsed once, in the
   run that ingested it. A run processes only the landing batches it has not seen yet (@new_batches:
   the batch_no watermark read from this table), so a tick parses only new events.
   (source_file, record_no) identifies the landed record; lakeflow.silver_orders picks one record per
   order from here. */
MODEL (
  name lakeflow.stg_order_created,
  kind INCREMENTAL_UNMANAGED,
  columns (
    source_file VARCHAR,
    record_no BIGINT,
    event_id VARCHAR,
    order_id VARCHAR,
    gk_id VARCHAR,
    location VARCHAR,
    ts TIMESTAMP,
    customer_lat DOUBLE,
    customer_lon DOUBLE,
    customer_addr VARCHAR,
    batch_no BIGINT
  ),
  audits (contract(not_null := (source_file, record_no, event_id, order_id, gk_id, location, ts, batch_no), grain := (source_file, record_no))),
  description 'Staging: order_created events with their customer fields parsed, appended once per landing batch.'
);

SELECT
  source_file::VARCHAR AS source_file,
  record_no::BIGINT AS record_no,
  event_id::VARCHAR AS event_id,
  order_id::VARCHAR AS order_id,
  gk_id::VARCHAR AS gk_id,
  location::VARCHAR AS location,
  ts::TIMESTAMP AS ts,
  TRY_CAST(JSON_EXTRACT_STRING(body, '$.customer_lat') AS DOUBLE)::DOUBLE AS customer_lat,
  TRY_CAST(JSON_EXTRACT_STRING(body, '$.customer_lon') AS DOUBLE)::DOUBLE AS customer_lon,
  JSON_EXTRACT_STRING(body, '$.customer_addr')::VARCHAR AS customer_addr,
  batch_no::BIGINT AS batch_no
FROM lakeflow.landing_records
WHERE
  record_kind = 'event'
  AND event_type = 'order_created'
  AND @new_batches(lakeflow.stg_order_created)
