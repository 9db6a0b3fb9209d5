/* The menu catalog's brands: the home's seeded catalog, else the shipped seed (@catalog_rows,
   models/macros/catalog.py). Rebuilt when the catalog changes, not on every run. */
MODEL (
  name simulator.brands,
  kind FULL,
  allow_partials false, /* rebuilt by a plan when the catalog's digest changes, and daily */
  columns (brand_id INTEGER, name VARCHAR, cuisine VARCHAR, description VARCHAR),
  grain brand_id,
  audits (not_null(columns := (brand_id, name)), unique_values(columns := (brand_id))),
  description 'The brands of the menu catalog (one virtual restaurant each).'
);

SELECT
  brand_id,
  name,
  cuisine,
  description
FROM @catalog_rows('brands') AS brands
