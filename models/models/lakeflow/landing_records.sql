/* Every record of every landing file, appended once per file; bronze and quarantine are views on it.

   One INSERT per run writes, for each new file, its records AND one marker row (record_kind 'file'),
   so the file ledger and the data are committed together: a file is ingested exactly once.
   Reasons, checked in this order (the first that applies wins):
     invalid_utf8, invalid_json_array   the file could not be split into records (one row, raw = file)
     unsupported_file_name              a name with glob characters (* ? [ ] { }): not read (raw = name)
     invalid_json                       the record is not a JSON object
     unmapped:<column>                  a row of a reference dataset's events.parquet that `casper replay`
                                        could not map (field replay_unmapped names the column: location_id,
                                        event_type_id, items_json, route_json); the record holds the row
     missing_field:<f>                  a top-level field is absent, JSON null or blank
     bad_type:sequence                  sequence is not a non-negative integer (e.g. "abc", 1.5)
     bad_type:ts                        ts is not 'YYYY-MM-DD HH:MM:SS[.ffffff]' or not a real instant
     bad_type:body                      body is not a JSON object (string-encoded or not)
     unknown_event_type                 event_type is none of the 8 of SPEC.md section 1
   A reference event (what the reference's replay writes: an integer location_id, no location, no
   gk_id) is an event: its location is the code the home's catalog gives its location_id
   (@location_code, models/macros/catalog.py), else the location_id as given; its gk_id is
   'gk-' || location, as the generator names a kitchen. An event with both location and location_id
   keeps its location.
*/
MODEL (
  name lakeflow.landing_records,
  kind INCREMENTAL_UNMANAGED,
  columns (
    source_file VARCHAR,
    record_no BIGINT,
    record_kind VARCHAR,
    event_id VARCHAR,
    event_type VARCHAR,
    ts TIMESTAMP,
    gk_id VARCHAR,
    location VARCHAR,
    order_id VARCHAR,
    sequence INTEGER,
    body VARCHAR,
    raw_text VARCHAR,
    reason VARCHAR,
    batch_no BIGINT,
    ingested_at TIMESTAMP
  ),
  grain (source_file, record_no),
  audits (landing_batch),
  description 'Append-only log of landing records: events, quarantined records and one marker per ingested file.'
);

WITH landed AS (
  SELECT
    *
  FROM @landing_records() AS landed
), located AS (
  /* the reference replay's events carry an integer location_id instead of location and gk_id */
  SELECT
    *,
    CASE
      WHEN (
        location IS NULL OR TRIM(location) = ''
      ) AND NOT (
        location_id IS NULL OR TRIM(location_id) = ''
      )
      THEN COALESCE(@location_code(location_id), TRIM(location_id))
      ELSE location
    END AS located
  FROM landed
), typed AS (
  /* ts and sequence parsed once, for the checks and for the columns */
  SELECT
    *,
    CASE
      WHEN REGEXP_MATCHES(ts, '^[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}:[0-9]{2}([.][0-9]{1,6})?$')
      THEN TRY_CAST(ts AS TIMESTAMP)
    END AS ts_value,
    CASE WHEN REGEXP_MATCHES(sequence, '^[0-9]{1,9}$') THEN CAST(sequence AS INTEGER) END AS sequence_value
  FROM located
), checked AS (
  /* blank = only spaces (what TRIM removes); a value not starting with a space is not blank, and
     is not trimmed to find out */
  SELECT
    *,
    CASE
      WHEN record_no = 0
      THEN NULL
      WHEN NOT read_error IS NULL
      THEN read_error
      WHEN NOT is_object
      THEN 'invalid_json'
      WHEN NOT replay_unmapped IS NULL AND TRIM(replay_unmapped) <> ''
      THEN 'unmapped:' || TRIM(replay_unmapped)
      WHEN event_id IS NULL OR event_id = '' OR (event_id LIKE ' %' AND TRIM(event_id) = '')
      THEN 'missing_field:event_id'
      WHEN event_type IS NULL OR event_type = '' OR (event_type LIKE ' %' AND TRIM(event_type) = '')
      THEN 'missing_field:event_type'
      WHEN ts IS NULL OR ts = '' OR (ts LIKE ' %' AND TRIM(ts) = '')
      THEN 'missing_field:ts'
      WHEN (
        gk_id IS NULL OR gk_id = '' OR (gk_id LIKE ' %' AND TRIM(gk_id) = '')
      ) AND (
        location_id IS NULL OR TRIM(location_id) = ''
      )
      THEN 'missing_field:gk_id'
      WHEN located IS NULL OR located = '' OR (located LIKE ' %' AND TRIM(located) = '')
      THEN 'missing_field:location'
      WHEN order_id IS NULL OR order_id = '' OR (order_id LIKE ' %' AND TRIM(order_id) = '')
      THEN 'missing_field:order_id'
      WHEN sequence IS NULL OR sequence = '' OR (sequence LIKE ' %' AND TRIM(sequence) = '')
      THEN 'missing_field:sequence'
      WHEN body IS NULL
      THEN 'missing_field:body'
      WHEN sequence_value IS NULL
      THEN 'bad_type:sequence'
      WHEN ts_value IS NULL
      THEN 'bad_type:ts'
      WHEN NOT body_is_object
      THEN 'bad_type:body'
      WHEN NOT event_type IN (
        'order_created',
        'gk_started',
        'gk_finished',
        'gk_ready',
        'driver_arrived',
        'driver_picked_up',
        'driver_ping',
        'delivered'
      )
      THEN 'unknown_event_type'
    END AS reason
  FROM typed
)
SELECT
  source_file::VARCHAR AS source_file,
  record_no::BIGINT AS record_no,
  CASE WHEN record_no = 0 THEN 'file' WHEN reason IS NULL THEN 'event' ELSE 'quarantine' END::VARCHAR AS record_kind,
  event_id::VARCHAR AS event_id,
  event_type::VARCHAR AS event_type,
  ts_value::TIMESTAMP AS ts,
  CASE
    WHEN (
      gk_id IS NULL OR TRIM(gk_id) = ''
    ) AND NOT (
      location_id IS NULL OR TRIM(location_id) = ''
    )
    THEN 'gk-' || located
    ELSE gk_id
  END::VARCHAR AS gk_id,
  located::VARCHAR AS location,
  order_id::VARCHAR AS order_id,
  sequence_value::INTEGER AS sequence,
  body::VARCHAR AS body,
  CASE WHEN NOT reason IS NULL THEN raw END::VARCHAR AS raw_text,
  reason::VARCHAR AS reason,
  batch_no::BIGINT AS batch_no,
  ingested_at::TIMESTAMP AS ingested_at
FROM checked
