MODEL (
  name lakeflow.gold_brand_sales_day,
  kind VIEW,
  allow_partials false, /* a view is always current: SQLMesh re-checks it at plans and daily */
  grain (brand_id, day),
  audits (
    contract(
      not_null := (brand_id, day, orders, items_sold, brand_revenue),
      grain := (brand_id, day),
      non_negative := (orders, items_sold, brand_revenue)
    ),
    revenue_matches_silver(column := brand_revenue)
  ),
  description 'Gold: per brand and day (UTC): distinct orders (exact), units sold and revenue.'
);

SELECT
  brand_id::INTEGER AS brand_id,
  order_day::DATE AS day,
  COUNT(DISTINCT order_id)::BIGINT AS orders,
  SUM(qty)::BIGINT AS items_sold,
  SUM(extended_price)::DECIMAL(18, 2) AS brand_revenue
FROM lakeflow.silver_order_items
GROUP BY
  brand_id,
  order_day
