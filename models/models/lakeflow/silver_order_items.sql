/* Silver: order_created bodies parsed, one row per (order, item), appended with the order.
   - The items are those of the order_created record that counts (lakeflow.silver_orders), so a
     re-landed event never doubles anything. A run takes the orders silver_orders added since this
     model's newest batch_no (@new_batches).
   - Item lines come parsed and validated from lakeflow.stg_order_items (invalid lines dropped, an
     item listed twice merged into one line), a view read for the same new batches: the record that
     counts for an order new here landed in one of them (its batch_no is the order's). An order whose items list is nulled by DQ injection
     has no rows here.
   Money is DECIMAL: price DECIMAL(10, 2), extended_price = price * qty. batch_no is the order's
   (the landing batch of its counted record). */
MODEL (
  name lakeflow.silver_order_items,
  kind INCREMENTAL_UNMANAGED,
  columns (
    order_id VARCHAR,
    gk_id VARCHAR,
    location VARCHAR,
    order_ts TIMESTAMP,
    order_day DATE,
    item_id INTEGER,
    menu_id INTEGER,
    category_id INTEGER,
    brand_id INTEGER,
    item_name VARCHAR,
    price DECIMAL(10, 2),
    qty INTEGER,
    extended_price DECIMAL(12, 2),
    batch_no BIGINT
  ),
  grain (order_id, item_id),
  audits (
    contract(
      not_null := (order_id, gk_id, location, order_ts, order_day, item_id, menu_id, category_id, brand_id, price, qty, extended_price, batch_no),
      grain := (order_id, item_id),
      non_negative := (price, qty, extended_price)
    )
  ),
  description 'Silver: one row per item of each order (order_created events only).'
);

WITH new_orders AS (
  SELECT
    order_id,
    gk_id,
    location,
    order_ts,
    order_day,
    source_file,
    record_no,
    batch_no
  FROM lakeflow.silver_orders
  WHERE
    @new_batches(lakeflow.silver_order_items)
)
SELECT
  o.order_id::VARCHAR AS order_id,
  o.gk_id::VARCHAR AS gk_id,
  o.location::VARCHAR AS location,
  o.order_ts::TIMESTAMP AS order_ts,
  o.order_day::DATE AS order_day,
  i.item_id::INTEGER AS item_id,
  i.menu_id::INTEGER AS menu_id,
  i.category_id::INTEGER AS category_id,
  i.brand_id::INTEGER AS brand_id,
  i.item_name::VARCHAR AS item_name,
  i.price::DECIMAL(10, 2) AS price,
  i.qty::INTEGER AS qty,
  i.extended_price::DECIMAL(12, 2) AS extended_price,
  o.batch_no::BIGINT AS batch_no
FROM new_orders AS o
JOIN lakeflow.stg_order_items AS i
  ON i.source_file = o.source_file AND i.record_no = o.record_no
WHERE
  @new_batches(lakeflow.silver_order_items, i)
