MODEL (
  name simulator.menus,
  kind SEED (path '../../seeds/menus.csv'),
  columns (menu_id INTEGER, brand_id INTEGER, name VARCHAR),
  grain menu_id,
  audits (not_null(columns := (menu_id, brand_id, name)), unique_values(columns := (menu_id))),
  description 'One menu per brand.'
);
