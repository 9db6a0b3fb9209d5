"""Scoring a batch of delivered orders into refund recommendations.

Pure pandas in, pandas out, with no engine in sight: the local loop calls it, and so does a Spark
foreachBatch (locally or on Databricks) on each micro-batch converted to pandas.
"""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd

from casper.refunds import ORDER_TIMES, RECOMMENDATION_COLUMNS, REFUND_CLASSES, SCORING_INPUT


def scorable(orders: pd.DataFrame) -> pd.Series:
    """Orders a refund can be decided for: a delivery time and an order total that make sense."""
    minutes = pd.to_numeric(orders["delivery_minutes"], errors="coerce")
    total = pd.to_numeric(orders["order_total"], errors="coerce")
    return (
        minutes.notna() & (minutes >= 0) & total.notna() & (total >= 0) & orders["order_id"].notna()
    )


def score_batch(
    model, orders: pd.DataFrame, model_version: str, scored_at: dt.datetime
) -> pd.DataFrame:
    """One recommendation per scorable order; `agent_response` is the JSON the reference app parses."""
    batch = orders.loc[scorable(orders), list(SCORING_INPUT)].reset_index(drop=True)
    if batch.empty:
        return pd.DataFrame({name: pd.Series(dtype=object) for name in RECOMMENDATION_COLUMNS})
    decided = model.predict(batch.drop(columns=list(ORDER_TIMES)))
    refund_usd = np.round(decided["refund_usd"].astype(float).to_numpy(), 2)
    refund_class = decided["refund_class"].astype(str).to_numpy()
    unknown = set(refund_class) - set(REFUND_CLASSES)
    if unknown:
        raise ValueError(f"the model returned unknown refund classes: {sorted(unknown)}")
    reasons = decided["reason"].astype(str).to_numpy()
    responses = [
        json.dumps({"refund_usd": float(usd), "refund_class": cls, "reason": reason})
        for usd, cls, reason in zip(refund_usd, refund_class, reasons, strict=True)
    ]
    return pd.DataFrame(
        {
            "order_id": batch["order_id"].astype(str),
            "ts": pd.Timestamp(scored_at),
            "agent_response": responses,
            "refund_class": refund_class,
            "refund_usd": refund_usd,
            "reason": reasons,
            "model_version": str(model_version),
            "location": batch["location"].astype(str),
            "delivered_ts": pd.to_datetime(batch["delivered_ts"]),
            "order_ts": pd.to_datetime(batch["order_ts"]),
        }
    )
