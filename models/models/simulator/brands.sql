MODEL (
  name simulator.brands,
  kind SEED (path '../../seeds/brands.csv'),
  columns (brand_id INTEGER, name VARCHAR, cuisine VARCHAR, description VARCHAR),
  grain brand_id,
  audits (not_null(columns := (brand_id, name)), unique_values(columns := (brand_id))),
  description 'The brands of the menu catalog (one virtual restaurant each).'
);
