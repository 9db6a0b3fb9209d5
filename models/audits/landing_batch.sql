/* The landing log's invariants, checked on the batch just inserted (so the check stays cheap as the
   log grows; every batch is checked when it lands):
   - exactly once: each file of the batch has exactly one marker row, all its records in this one
     batch, and distinct record numbers;
   - bronze contract: an event has its 8 fields typed and non-null and no reason;
   - quarantine contract: a quarantined record has a reason and its raw text;
   - a marker carries no record data. */
AUDIT (
  name landing_batch
);

/* the batch is read twice, each time straight from the table: a CTE of its rows that both parts
   read would be materialized, every column of every row (its bodies), doubling the audit's time */
WITH latest AS (
  SELECT
    MAX(batch_no) AS batch_no
  FROM @this_model
), not_once AS (
  SELECT
    records.source_file
  FROM @this_model AS records
  WHERE
    records.source_file IN (
      SELECT DISTINCT
        batch.source_file
      FROM @this_model AS batch
      WHERE
        batch.batch_no = (
          SELECT
            batch_no
          FROM latest
        )
    )
  GROUP BY
    records.source_file
  HAVING
    COUNT(CASE WHEN records.record_kind = 'file' THEN 1 END) <> 1
    OR COUNT(DISTINCT records.batch_no) <> 1
    OR COUNT(*) <> COUNT(DISTINCT records.record_no)
), broken AS (
  SELECT
    source_file,
    record_no
  FROM @this_model
  WHERE
    batch_no = (
      SELECT
        batch_no
      FROM latest
    )
    AND (
      source_file IS NULL
      OR record_no IS NULL
      OR ingested_at IS NULL
      OR NOT record_kind IN ('file', 'event', 'quarantine')
      OR (
        record_kind = 'event'
        AND (
          event_id IS NULL
          OR event_type IS NULL
          OR ts IS NULL
          OR gk_id IS NULL
          OR location IS NULL
          OR order_id IS NULL
          OR sequence IS NULL
          OR body IS NULL
          OR NOT reason IS NULL
        )
      )
      OR (
        record_kind = 'quarantine' AND (reason IS NULL OR raw_text IS NULL)
      )
      OR (
        record_kind = 'file' AND (record_no <> 0 OR NOT reason IS NULL OR NOT event_id IS NULL)
      )
    )
)
SELECT
  'file not ingested exactly once' AS problem,
  source_file,
  CAST(NULL AS BIGINT) AS record_no
FROM not_once
UNION ALL
SELECT
  'record breaks the landing contract' AS problem,
  source_file,
  record_no
FROM broken
