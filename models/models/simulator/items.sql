/* Menu items with their list price (see simulator.brands for where the rows come from). */
MODEL (
  name simulator.items,
  kind FULL,
  allow_partials false, /* rebuilt by a plan when the catalog's digest changes, and daily */
  columns (
    item_id INTEGER,
    category_id INTEGER,
    menu_id INTEGER,
    brand_id INTEGER,
    name VARCHAR,
    description VARCHAR,
    price DOUBLE /* DOUBLE, as it was a seed's: SQLMesh's Spark seed loader cannot load DECIMAL */
  ),
  grain item_id,
  audits (
    not_null(columns := (item_id, category_id, menu_id, brand_id, name, price)),
    unique_values(columns := (item_id)),
    non_negative(columns := (price))
  ),
  description 'Menu items with their list price in USD.'
);

SELECT
  item_id,
  category_id,
  menu_id,
  brand_id,
  name,
  description,
  price
FROM @catalog_rows('items') AS items
