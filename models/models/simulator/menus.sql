/* One menu per brand (see simulator.brands for where the rows come from). */
MODEL (
  name simulator.menus,
  kind FULL,
  allow_partials false, /* rebuilt by a plan when the catalog's digest changes, and daily */
  columns (menu_id INTEGER, brand_id INTEGER, name VARCHAR),
  grain menu_id,
  audits (not_null(columns := (menu_id, brand_id, name)), unique_values(columns := (menu_id))),
  description 'One menu per brand.'
);

SELECT
  menu_id,
  brand_id,
  name
FROM @catalog_rows('menus') AS menus
