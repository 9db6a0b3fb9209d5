MODEL (
  name lakeflow.gold_location_sales_hourly,
  kind VIEW,
  allow_partials false, /* a view is always current: SQLMesh re-checks it at plans and daily */
  grain (location, hour_ts),
  audits (
    contract(
      not_null := (location, hour_ts, orders, revenue),
      grain := (location, hour_ts),
      non_negative := (orders, revenue)
    ),
    revenue_matches_silver(column := revenue)
  ),
  description 'Gold: per location and hour (UTC, the order time truncated): distinct orders (exact) and revenue.'
);

SELECT
  location::VARCHAR AS location,
  DATE_TRUNC('hour', order_ts)::TIMESTAMP AS hour_ts,
  COUNT(DISTINCT order_id)::BIGINT AS orders,
  SUM(extended_price)::DECIMAL(18, 2) AS revenue
FROM lakeflow.silver_order_items
GROUP BY
  location,
  DATE_TRUNC('hour', order_ts)
