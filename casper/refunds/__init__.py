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
)
#: what the warehouse hands the scorer: the model's input, plus when the order was delivered
SCORING_INPUT = (
    "order_id",
    "location",
    "delivery_minutes",
    "order_total",
    "distance_km",
    "total_items",
    "created_hour",
    "delivered_ts",
)
