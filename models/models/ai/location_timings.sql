/* Per location: P50 / P75 / P99 of delivery_minutes over its delivered orders whose delivered_ts lies
   in (window_end - window, window_end], window_end being the location's newest delivered_ts and the
   window the SQLMesh variable timings_window_minutes (default 1440 = 1 day). Percentiles interpolate
   linearly between the two nearest ranks (numpy's default, DuckDB's quantile_cont), computed with
   window functions so that every engine gives the same exact answer. */
MODEL (
  name ai.location_timings,
  kind VIEW,
  allow_partials false, /* a view is always current: SQLMesh re-checks it at plans and daily */
  grain location,
  audits (
    contract(not_null := (location, p50, p75, p99, order_count, window_start, window_end), grain := (location))
  ),
  description 'Per location: delivery time percentiles (minutes) over the recent window, orders used, window bounds.'
);

WITH delivered AS (
  SELECT
    location,
    delivered_ts,
    delivery_minutes
  FROM ai.order_delivery_times
  WHERE
    NOT delivered_ts IS NULL AND NOT delivery_minutes IS NULL
), bounds AS (
  SELECT
    location,
    MAX(delivered_ts) AS window_end,
    MAX(delivered_ts) - INTERVAL @VAR('timings_window_minutes', 1440) MINUTE AS window_start
  FROM delivered
  GROUP BY
    location
), recent AS (
  SELECT
    d.location,
    d.delivery_minutes,
    b.window_start,
    b.window_end
  FROM delivered AS d
  JOIN bounds AS b
    ON b.location = d.location
  WHERE
    d.delivered_ts > b.window_start AND d.delivered_ts <= b.window_end
), ranked AS (
  SELECT
    location,
    window_start,
    window_end,
    delivery_minutes,
    ROW_NUMBER() OVER (PARTITION BY location ORDER BY delivery_minutes) - 1 AS rank_no,
    COUNT(*) OVER (PARTITION BY location) AS n
  FROM recent
), ends AS (
  SELECT
    location,
    window_start,
    window_end,
    n,
    MAX(CASE WHEN rank_no = FLOOR(0.50 * (n - 1)) THEN delivery_minutes END) AS p50_lo,
    MAX(CASE WHEN rank_no = CEIL(0.50 * (n - 1)) THEN delivery_minutes END) AS p50_hi,
    MAX(CASE WHEN rank_no = FLOOR(0.75 * (n - 1)) THEN delivery_minutes END) AS p75_lo,
    MAX(CASE WHEN rank_no = CEIL(0.75 * (n - 1)) THEN delivery_minutes END) AS p75_hi,
    MAX(CASE WHEN rank_no = FLOOR(0.99 * (n - 1)) THEN delivery_minutes END) AS p99_lo,
    MAX(CASE WHEN rank_no = CEIL(0.99 * (n - 1)) THEN delivery_minutes END) AS p99_hi
  FROM ranked
  GROUP BY
    location,
    window_start,
    window_end,
    n
)
SELECT
  location::VARCHAR AS location,
  (p50_lo + (p50_hi - p50_lo) * (0.50 * (n - 1) - FLOOR(0.50 * (n - 1))))::DOUBLE AS p50,
  (p75_lo + (p75_hi - p75_lo) * (0.75 * (n - 1) - FLOOR(0.75 * (n - 1))))::DOUBLE AS p75,
  (p99_lo + (p99_hi - p99_lo) * (0.99 * (n - 1) - FLOOR(0.99 * (n - 1))))::DOUBLE AS p99,
  n::BIGINT AS order_count,
  window_start::TIMESTAMP AS window_start,
  window_end::TIMESTAMP AS window_end
FROM ends
