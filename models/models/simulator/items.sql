MODEL (
  name simulator.items,
  kind SEED (path '../../seeds/items.csv'),
  columns (
    item_id INTEGER,
    category_id INTEGER,
    menu_id INTEGER,
    brand_id INTEGER,
    name VARCHAR,
    description VARCHAR,
    price DOUBLE /* DOUBLE, not DECIMAL: SQLMesh's Spark seed loader cannot load DECIMAL columns */
  ),
  grain item_id,
  audits (
    not_null(columns := (item_id, category_id, menu_id, brand_id, name, price)),
    unique_values(columns := (item_id)),
    non_negative(columns := (price))
  ),
  description 'Menu items with their list price in USD.'
);
