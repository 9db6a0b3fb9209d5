/* Staging, append-only: the route length of every driver_picked_up event, computed once, in the run
   that ingested it (batch_no watermark, as lakeflow.stg_order_created). route_km is the sum of the
   great-circle lengths of the consecutive segments of route_points; NULL when route_points is
   missing, nulled by DQ injection, has fewer than 2 points, or a point is not a [lat, lon] pair.
   (List positions are cast to INTEGER so that sqlglot shifts them for 0-based engines like Spark.) */
MODEL (
  name lakeflow.stg_pickup_routes,
  kind INCREMENTAL_UNMANAGED,
  columns (
    source_file VARCHAR,
    record_no BIGINT,
    event_id VARCHAR,
    order_id VARCHAR,
    ts TIMESTAMP,
    route_km DOUBLE,
    route_points INTEGER,
    batch_no BIGINT
  ),
  audits (
    contract(
      not_null := (source_file, record_no, event_id, order_id, ts, route_points, batch_no),
      grain := (source_file, record_no),
      non_negative := (route_km)
    )
  ),
  description 'Staging: route length (km) of each driver_picked_up event, appended once per landing batch.'
);

WITH pickups AS (
  SELECT
    source_file,
    record_no,
    event_id,
    order_id,
    ts,
    TRY_CAST(JSON_EXTRACT(body, '$.route_points') AS DOUBLE[][]) AS route,
    batch_no
  FROM lakeflow.landing_records
  WHERE
    record_kind = 'event'
    AND event_type = 'driver_picked_up'
    AND @new_batches(lakeflow.stg_pickup_routes)
), segments AS (
  SELECT
    source_file,
    record_no,
    route,
    UNNEST(RANGE(1, ARRAY_LENGTH(route))) AS i
  FROM pickups
  WHERE
    ARRAY_LENGTH(route) >= 2
), ends AS (
  /* each segment's two points, taken out of the route once (every coordinate below would take
     its point out of the route again) */
  SELECT
    source_file,
    record_no,
    route[CAST(i AS INTEGER)] AS start_point,
    route[CAST(i AS INTEGER) + 1] AS end_point
  FROM segments
), lengths AS (
  SELECT
    source_file,
    record_no,
    CASE
      WHEN ARRAY_LENGTH(start_point) >= 2 AND ARRAY_LENGTH(end_point) >= 2
      THEN @haversine_km(start_point[1], start_point[2], end_point[1], end_point[2])
    END AS segment_km
  FROM ends
), routes AS (
  SELECT
    source_file,
    record_no,
    SUM(segment_km) AS route_km,
    COUNT(*) AS segment_count,
    COUNT(segment_km) AS valid_segment_count
  FROM lengths
  GROUP BY
    source_file,
    record_no
)
SELECT
  p.source_file::VARCHAR AS source_file,
  p.record_no::BIGINT AS record_no,
  p.event_id::VARCHAR AS event_id,
  p.order_id::VARCHAR AS order_id,
  p.ts::TIMESTAMP AS ts,
  CASE WHEN r.segment_count = r.valid_segment_count THEN r.route_km END::DOUBLE AS route_km,
  COALESCE(ARRAY_LENGTH(p.route), 0)::INTEGER AS route_points,
  p.batch_no::BIGINT AS batch_no
FROM pickups AS p
LEFT JOIN routes AS r
  ON r.source_file = p.source_file AND r.record_no = p.record_no
