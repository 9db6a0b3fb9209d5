"""A warehouse holding just what the refund side reads (ai.order_delivery_times), made by the tests."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

LOCATIONS = ("sanfrancisco", "chicago")


def delivery_times(orders_per_location: int = 200, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    start = dt.datetime(2026, 11, 25, 0, 0)
    for location_index, location in enumerate(LOCATIONS):
        minutes = rng.gamma(9.0, 3.0 + location_index, orders_per_location)
        created = [
            start + dt.timedelta(minutes=int(m)) for m in rng.integers(0, 1400, orders_per_location)
        ]
        for i in range(orders_per_location):
            delivered = created[i] + dt.timedelta(minutes=float(minutes[i]))
            rows.append(
                {
                    "order_id": f"{location[:2]}{i:05d}",
                    "location": location,
                    "gk_id": f"gk-{location}",
                    "created_ts": created[i],
                    "delivered_ts": delivered,
                    "delivery_minutes": float(minutes[i]),
                    "order_revenue": float(np.round(rng.uniform(8, 90), 2)),
                    "distance_km": float(np.round(rng.uniform(0.5, 9), 3)),
                    "total_items": int(rng.integers(1, 9)),
                }
            )
    return pd.DataFrame(rows)


def write_warehouse(path: Path, frame: pd.DataFrame) -> Path:
    with duckdb.connect(str(path)) as connection:
        connection.execute("CREATE SCHEMA IF NOT EXISTS ai")
        connection.register("frame", frame)
        connection.execute("CREATE OR REPLACE TABLE ai.order_delivery_times AS SELECT * FROM frame")
    return path
