/* Staging, a view: the item lines of every landed order_created record. Only silver_order_items
   reads it, for the landing batches it has not seen: its batch_no filter reaches the scan of
   lakeflow.landing_records (batch_no is a group key here, and the engines push a filter on a group
   key through the grouping and the UNNEST), so each record's items are still parsed once, in the
   run that counts its order, and a tick has one model fewer to run. Per record:
   - lines without an id, brand, menu or category, with a NULL or negative price, or a NULL or
     non-positive qty are dropped (bronze keeps the event as landed); an items list nulled by DQ
     injection, or that is not a list of objects, gives no lines;
   - the same item listed twice is one line: qty and extended_price summed, the lowest price kept.
   Money is DECIMAL: price DECIMAL(10, 2), extended_price = SUM(price * qty). */
MODEL (
  name lakeflow.stg_order_items,
  kind VIEW,
  allow_partials false, /* a view is always current: SQLMesh re-checks it at plans and daily */
  columns (
    source_file VARCHAR,
    record_no BIGINT,
    order_id VARCHAR,
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
  /* no audit of its own: auditing a view computes it whole, parsing every landed record's items
     again (a third of a second in a first build, and again on each daily re-creation, growing
     with history). The lines that matter are checked as silver_order_items takes them in: its
     contract has these columns not null and non-negative, and a stricter grain (order_id,
     item_id). models/tests/test_staging.yaml checks the view's own rules. */
  description 'Staging: valid item lines of order_created records, one per item (a view on the landing log).'
);

WITH lines AS (
  SELECT
    source_file,
    record_no,
    order_id,
    batch_no,
    UNNEST(
      TRY_CAST(JSON_EXTRACT(body, '$.items') AS STRUCT(
        id INTEGER,
        category_id INTEGER,
        menu_id INTEGER,
        brand_id INTEGER,
        name VARCHAR,
        price DECIMAL(10, 2),
        qty INTEGER
      )[])
    ) AS item
  FROM lakeflow.landing_records
  WHERE
    record_kind = 'event'
    AND event_type = 'order_created'
), valid AS (
  SELECT
    source_file,
    record_no,
    order_id,
    batch_no,
    item.id AS item_id,
    item.menu_id AS menu_id,
    item.category_id AS category_id,
    item.brand_id AS brand_id,
    item.name AS item_name,
    item.price AS price,
    item.qty AS qty
  FROM lines
  WHERE
    NOT item.id IS NULL
    AND NOT item.menu_id IS NULL
    AND NOT item.category_id IS NULL
    AND NOT item.brand_id IS NULL
    AND item.price >= 0
    AND item.qty > 0
)
SELECT
  source_file::VARCHAR AS source_file,
  record_no::BIGINT AS record_no,
  MIN(order_id)::VARCHAR AS order_id,
  item_id::INTEGER AS item_id,
  MIN(menu_id)::INTEGER AS menu_id,
  MIN(category_id)::INTEGER AS category_id,
  MIN(brand_id)::INTEGER AS brand_id,
  MIN(item_name)::VARCHAR AS item_name,
  MIN(price)::DECIMAL(10, 2) AS price,
  SUM(qty)::INTEGER AS qty,
  SUM(price * qty)::DECIMAL(12, 2) AS extended_price,
  batch_no::BIGINT AS batch_no
FROM valid
GROUP BY
  source_file,
  record_no,
  item_id,
  batch_no /* one per record: a group key, so a filter on it is pushed down to the scan */
