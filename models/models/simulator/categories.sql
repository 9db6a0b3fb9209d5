/* Menu sections (see simulator.brands for where the rows come from). */
MODEL (
  name simulator.categories,
  kind FULL,
  allow_partials false, /* rebuilt by a plan when the catalog's digest changes, and daily */
  columns (category_id INTEGER, menu_id INTEGER, brand_id INTEGER, name VARCHAR),
  grain category_id,
  audits (not_null(columns := (category_id, menu_id, brand_id, name)), unique_values(columns := (category_id))),
  description 'Menu sections (burgers, sides, drinks, ...).'
);

SELECT
  category_id,
  menu_id,
  brand_id,
  name
FROM @catalog_rows('categories') AS categories
