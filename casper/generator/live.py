"""`casper live`: the same simulated world as the history, continued from its `now` at speed_up."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl

from casper.engine import Lander
from casper.generator.demand import US_PER_DAY
from casper.generator.plan import SimulationPlan
from casper.generator.simulation import Kitchen, from_us
from casper.generator.stream import PacedStream, Position, after_position

# Orders take well under a day from creation to delivery, so the events at time t come from orders
# created on t's day or the day before.
LOOKBACK_DAYS = 1


class KitchenSource:
    """A location's events after the history's `now`, simulated a day at a time as time advances."""

    def __init__(self, kitchen: Kitchen, now_us: int) -> None:
        self.kitchen = kitchen
        self.now_us = now_us
        self._days: dict[dt.date, pl.DataFrame] = {}

    def _day(self, day: dt.date) -> pl.DataFrame:
        if day not in self._days:
            self._days[day] = self.kitchen.simulate_day(day).filter(pl.col("ts_us") >= self.now_us)
        return self._days[day]

    def window(self, after: Position, until_us: int) -> pl.DataFrame:
        first = from_us(after.ts_us).date() - dt.timedelta(days=LOOKBACK_DAYS)
        last = from_us(until_us).date()
        for stale in [d for d in self._days if d < first]:
            del self._days[stale]
        days = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
        frames = [self._day(d) for d in days]
        return (
            pl.concat(frames)
            .filter(after_position(after) & (pl.col("ts_us") <= until_us))
            .sort(["ts_us", "order_id", "sequence"])
        )

    def end_us(self) -> int:
        return self.kitchen.sim_end_us + LOOKBACK_DAYS * US_PER_DAY


def live_streams(
    plan: SimulationPlan,
    kitchens: list[Kitchen],
    lander: Lander,
    checkpoints: Path,
    *,
    speed: float | None = None,
    batch_rows: int | None = None,
    batch_seconds: float | None = None,
) -> list[PacedStream]:
    streams = []
    for kitchen in kitchens:
        config = kitchen.config
        streams.append(
            PacedStream(
                prefix=f"live-{kitchen.name}",
                source=KitchenSource(kitchen, plan.now_us),
                lander=lander,
                checkpoint_path=checkpoints / f"live-{kitchen.name}.json",
                start=Position.before(plan.now_us),
                speed=speed or config.speed_up,
                batch_rows=batch_rows or config.batch_rows,
                batch_seconds=batch_seconds or config.batch_seconds,
            )
        )
    return streams
