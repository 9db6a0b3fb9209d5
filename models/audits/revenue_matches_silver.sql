/* Gold revenue equals silver revenue: SUM(@column) over this model = SUM(extended_price) in silver.
   Money is DECIMAL(_, 2) end to end, so the sums are exact. */
AUDIT (
  name revenue_matches_silver
);

WITH gold AS (
  SELECT
    COALESCE(SUM(@column), 0) AS revenue
  FROM @this_model
), silver AS (
  SELECT
    COALESCE(SUM(extended_price), 0) AS revenue
  FROM lakeflow.silver_order_items
)
SELECT
  gold.revenue AS gold_revenue,
  silver.revenue AS silver_revenue
FROM gold
CROSS JOIN silver
WHERE
  gold.revenue <> silver.revenue
