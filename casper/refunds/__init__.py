"""Refunds for late deliveries: the model, its MLflow registry entry, and scoring."""

REFUND_CLASSES = ("none", "partial", "full")
