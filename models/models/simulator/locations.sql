/* The reference's locations (its simulator.locations): integer location_id -> location_code and
   more, from the home's catalog seeded by `casper replay` of a reference dataset (locations.parquet);
   empty in a home without one. The landing log maps a reference event's location_id with the same
   file (@location_code). */
MODEL (
  name simulator.locations,
  kind FULL,
  allow_partials false, /* rebuilt by a plan when the catalog's digest changes, and daily */
  columns (
    location_id INTEGER,
    location_code VARCHAR,
    name VARCHAR,
    address VARCHAR,
    lat DOUBLE,
    lon DOUBLE,
    narrative VARCHAR,
    base_orders_day INTEGER,
    growth_rate_daily DOUBLE
  ),
  grain location_id,
  audits (not_null(columns := (location_id, location_code)), unique_values(columns := (location_id))),
  description 'Locations of a replayed reference dataset: integer id, code, name, address, position.'
);

SELECT
  location_id,
  location_code,
  name,
  address,
  lat,
  lon,
  narrative,
  base_orders_day,
  growth_rate_daily
FROM @catalog_rows('locations') AS locations
