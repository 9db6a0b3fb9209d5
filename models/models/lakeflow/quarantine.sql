/* Records that could not become bronze events, with their file, raw text and reason. */
MODEL (
  name lakeflow.quarantine,
  kind VIEW,
  allow_partials false, /* a view is always current: SQLMesh re-checks it at plans and daily */
  audits (not_null(columns := (source_file, record_no, reason, ingested_at))),
  description 'Quarantined landing records: file name, record number, raw text and the reason.'
);

SELECT
  source_file,
  record_no,
  reason,
  raw_text,
  event_id,
  event_type,
  order_id,
  ingested_at
FROM lakeflow.landing_records
WHERE
  record_kind = 'quarantine'
