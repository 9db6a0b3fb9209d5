/* Money and counts are never negative: returns the rows where one of @columns is below zero. */
AUDIT (
  name non_negative
);

SELECT
  *
FROM @this_model
WHERE
  @REDUCE(@EACH(@columns, c -> c < 0), (l, r) -> l OR r)
