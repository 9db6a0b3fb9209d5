/* Gold: one row per order, over lakeflow.silver_order_items (an order's items are appended together
   and never change once counted: see lakeflow.silver_orders). A view: a tick has nothing to
   rebuild, and a query reads what silver holds at that moment. batch_no is the order's landing batch. */
MODEL (
  name lakeflow.gold_order_header,
  kind VIEW,
  allow_partials false, /* a view is always current: SQLMesh re-checks it at plans and daily */
  columns (
    order_id VARCHAR,
    gk_id VARCHAR,
    location VARCHAR,
    order_day DATE,
    order_revenue DECIMAL(18, 2),
    total_qty BIGINT,
    total_items BIGINT,
    brands_in_order INTEGER[],
    batch_no BIGINT
  ),
  grain order_id,
  audits (
    contract(
      not_null := (order_id, gk_id, location, order_day, order_revenue, total_qty, total_items, brands_in_order, batch_no),
      grain := (order_id),
      non_negative := (order_revenue, total_qty, total_items)
    ),
    revenue_matches_silver(column := order_revenue)
  ),
  description 'Gold: one row per order: revenue, quantities and the sorted distinct brand ids in it.'
);

SELECT
  order_id::VARCHAR AS order_id,
  gk_id::VARCHAR AS gk_id,
  location::VARCHAR AS location,
  order_day::DATE AS order_day,
  SUM(extended_price)::DECIMAL(18, 2) AS order_revenue,
  SUM(qty)::BIGINT AS total_qty,
  COUNT(*)::BIGINT AS total_items,
  LIST_SORT(LIST_DISTINCT(ARRAY_AGG(brand_id)))::INTEGER[] AS brands_in_order,
  MAX(batch_no)::BIGINT AS batch_no
FROM lakeflow.silver_order_items
GROUP BY
  order_id,
  gk_id,
  location,
  order_day
