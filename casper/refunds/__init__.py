"""Refunds for late deliveries: the model, its MLflow registry entry, and scoring."""

REFUND_CLASSES = ("none", "partial", "full")
#: the registry alias of the model version that scores (casper.refunds.registry)
CHAMPION = "champion"

#: a recommendation's columns (recommender.refund_recommendations, casper.refunds.scoring's output)
RECOMMENDATION_COLUMNS = (
    "order_id",
    "ts",
    "agent_response",
    "refund_class",
    "refund_usd",
    "reason",
    "model_version",
    "location",
    "delivered_ts",
    # when the order was created (its order_created event), as the reference's synced table has it;
    # last, so a table made before it and given the column later has the same column order
    "order_ts",
)
#: when the order was delivered and created: carried through scoring, not seen by the model
ORDER_TIMES = ("delivered_ts", "order_ts")
#: what the warehouse hands the scorer: the model's input, plus the order's times
SCORING_INPUT = (
    "order_id",
    "location",
    "delivery_minutes",
    "order_total",
    "distance_km",
    "total_items",
    "created_hour",
    *ORDER_TIMES,
)
