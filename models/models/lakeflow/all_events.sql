/* Bronze: every parsed event as landed (duplicates included), typed. A view on the landing log. */
MODEL (
  name lakeflow.all_events,
  kind VIEW,
  allow_partials false, /* a view is always current: SQLMesh re-checks it at plans and daily */
  audits (
    not_null(columns := (event_id, event_type, ts, gk_id, location, order_id, sequence, body, source_file, ingested_at))
  ),
  description 'Bronze: every landed event that parsed, one row per landed record (a re-landed event appears twice).'
);

SELECT
  event_id,
  event_type,
  ts,
  gk_id,
  location,
  order_id,
  sequence,
  body,
  source_file,
  ingested_at
FROM lakeflow.landing_records
WHERE
  record_kind = 'event'
