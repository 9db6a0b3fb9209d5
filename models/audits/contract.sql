/* A model's contract in one query (one audit keeps the per-run cost low), checked on the rows the
   evaluation just added (@added_rows: batch_no above the watermark it used; every row for a model
   without one, or outside a pipeline run), so the check grows with what landed, not with the table:
   - no NULL in the @not_null columns of the added rows;
   - one row per @grain value among the added rows' values, counted over the whole table (an added
     row repeating an older row's grain counts);
   - no negative value in the @non_negative columns of the added rows (money, quantities; optional).
   Returns one row per broken rule, with the number of offending rows. */
AUDIT (
  name contract,
  defaults (non_negative = (NULL))
);

WITH added AS (
  SELECT
    *
  FROM @this_model
  WHERE
    @added_rows()
), nulls AS (
  SELECT
    COUNT(*) AS offending
  FROM added
  WHERE
    @REDUCE(@EACH(@not_null, c -> c IS NULL), (l, r) -> l OR r)
), duplicates AS (
  SELECT
    COUNT(*) AS offending
  FROM (
    SELECT
      COUNT(*) AS copies
    FROM @this_model AS checked
    WHERE
      @added_grain(@grain)
    GROUP BY
      @grain
    HAVING
      COUNT(*) > 1
  ) AS repeated
), negatives AS (
  SELECT
    COUNT(*) AS offending
  FROM added
  WHERE
    @REDUCE(@EACH(@non_negative, c -> c < 0), (l, r) -> l OR r)
)
SELECT
  'NULL in a not-null column' AS problem,
  offending
FROM nulls
WHERE
  offending > 0
UNION ALL
SELECT
  'more than one row per grain' AS problem,
  offending
FROM duplicates
WHERE
  offending > 0
UNION ALL
SELECT
  'negative amount or quantity' AS problem,
  offending
FROM negatives
WHERE
  offending > 0
