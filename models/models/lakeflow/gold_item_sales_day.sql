MODEL (
  name lakeflow.gold_item_sales_day,
  kind VIEW,
  allow_partials false, /* a view is always current: SQLMesh re-checks it at plans and daily */
  grain (item_id, menu_id, category_id, brand_id, day),
  audits (
    contract(
      not_null := (item_id, menu_id, category_id, brand_id, day, units_sold, gross_revenue),
      grain := (item_id, menu_id, category_id, brand_id, day),
      non_negative := (units_sold, gross_revenue)
    ),
    revenue_matches_silver(column := gross_revenue)
  ),
  description 'Gold: units sold and gross revenue per item and day (UTC).'
);

SELECT
  item_id::INTEGER AS item_id,
  menu_id::INTEGER AS menu_id,
  category_id::INTEGER AS category_id,
  brand_id::INTEGER AS brand_id,
  order_day::DATE AS day,
  SUM(qty)::BIGINT AS units_sold,
  SUM(extended_price)::DECIMAL(18, 2) AS gross_revenue
FROM lakeflow.silver_order_items
GROUP BY
  item_id,
  menu_id,
  category_id,
  brand_id,
  order_day
