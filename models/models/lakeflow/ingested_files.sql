/* The file ledger: each landing file ingested, when, and how its records split. */
MODEL (
  name lakeflow.ingested_files,
  kind VIEW,
  allow_partials false, /* a view is always current: SQLMesh re-checks it at plans and daily */
  grain source_file,
  audits (not_null(columns := (source_file, ingested_at, events, quarantined)), unique_values(columns := (source_file))),
  description 'One row per ingested landing file: when, how many events reached bronze, how many were quarantined.'
);

SELECT
  source_file,
  MIN(ingested_at) AS ingested_at,
  COUNT(CASE WHEN record_kind = 'event' THEN 1 END) AS events,
  COUNT(CASE WHEN record_kind = 'quarantine' THEN 1 END) AS quarantined
FROM lakeflow.landing_records
GROUP BY
  source_file
