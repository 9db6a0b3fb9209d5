MODEL (
  name simulator.categories,
  kind SEED (path '../../seeds/categories.csv'),
  columns (category_id INTEGER, menu_id INTEGER, brand_id INTEGER, name VARCHAR),
  grain category_id,
  audits (not_null(columns := (category_id, menu_id, brand_id, name)), unique_values(columns := (category_id))),
  description 'Menu sections (burgers, sides, drinks, ...).'
);
