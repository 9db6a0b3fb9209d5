/* A model's contract in one query (one audit keeps the per-run cost low):
   - no NULL in the @not_null columns;
   - one row per @grain value;
   - no negative value in the @non_negative columns (money, quantities; optional).
   Returns one row per broken rule, with the number of offending rows. */
AUDIT (
  name contract,
  defaults (non_negative = (NULL))
);

WITH nulls AS (
  SELECT
    COUNT(*) AS offending
  FROM @this_model
  WHERE
    @REDUCE(@EACH(@not_null, c -> c IS NULL), (l, r) -> l OR r)
), duplicates AS (
  SELECT
    COUNT(*) AS offending
  FROM (
    SELECT
      COUNT(*) AS copies
    FROM @this_model
    GROUP BY
      @grain
    HAVING
      COUNT(*) > 1
  ) AS repeated
), negatives AS (
  SELECT
    COUNT(*) AS offending
  FROM @this_model
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
