"""How many orders a location gets, and when (SPEC.md section 1, demand model)."""

from __future__ import annotations

import datetime as dt
import functools
import math

import numpy as np

from casper.config import LocationConfig

MINUTES_PER_DAY = 1440
US_PER_MINUTE = 60_000_000
US_PER_DAY = MINUTES_PER_DAY * US_PER_MINUTE

# Monday first, as datetime.weekday() counts.
DAY_OF_WEEK_MULTIPLIER = np.array([1.00, 1.05, 1.08, 1.10, 1.25, 1.35, 1.15])

LUNCH = (11 * 60, 13 * 60 + 30, 3.0)  # start minute, end minute, peak multiplier
DINNER = (17 * 60, 20 * 60, 3.5)
LATE_NIGHT_START, LATE_NIGHT_MINUTES = 21 * 60, 4 * 60  # 21:00 to 01:00, across midnight


def _bump(minutes: np.ndarray, start: int, length: int, peak: float) -> np.ndarray:
    """sin^2-shaped extra weight, 0 outside [start, start + length), peak - 1 at its middle."""
    offset = (minutes - start) % MINUTES_PER_DAY
    inside = offset < length
    return np.where(inside, (peak - 1.0) * np.sin(np.pi * offset / length) ** 2, 0.0)


def minute_weights(config: LocationConfig) -> np.ndarray:
    """Relative demand of each minute of the day: 1, plus lunch and dinner (and late-night) bumps."""
    late_night = config.late_night_bump
    return _minute_weights(None if late_night is None else late_night.peak).copy()


@functools.lru_cache(maxsize=64)
def _minute_weights(late_night_peak: float | None) -> np.ndarray:
    minutes = np.arange(MINUTES_PER_DAY)
    weights = np.ones(MINUTES_PER_DAY)
    for start, end, peak in (LUNCH, DINNER):
        weights += _bump(minutes, start, end - start, peak)
    if late_night_peak is not None:
        weights += _bump(minutes, LATE_NIGHT_START, LATE_NIGHT_MINUTES, late_night_peak)
    weights.flags.writeable = False
    return weights


def base_orders(config: LocationConfig, day_index: int) -> float:
    """Orders per day before weekday and noise: orders_day_1 on day 0 to orders_last on day T."""
    progress = day_index / config.total_days
    first, last = config.orders_day_1, config.orders_last
    if config.demand_curve == "exponential" and first > 0 and last > 0:
        ratio = last / first
        if math.isinf(ratio):  # a tiny first day (e.g. 1e-308): the same curve in log space
            return math.exp(math.log(first) + progress * (math.log(last) - math.log(first)))
        return first * ratio**progress
    return first + (last - first) * progress


def expected_orders(config: LocationConfig, day: dt.date, day_index: int, noise: float) -> float:
    return base_orders(config, day_index) * DAY_OF_WEEK_MULTIPLIER[day.weekday()] * noise


def order_offsets_us(
    rng: np.random.Generator, config: LocationConfig, day: dt.date, day_index: int
) -> np.ndarray:
    """Microseconds after midnight at which the day's orders are created, sorted."""
    spread = config.noise_pct / 100.0
    noise = rng.uniform(1.0 - spread, 1.0 + spread)
    late_night = config.late_night_bump
    weights = _minute_weights(None if late_night is None else late_night.peak)
    per_minute = expected_orders(config, day, day_index, noise) * weights / weights.sum()
    counts = rng.poisson(per_minute)
    minutes = np.repeat(np.arange(MINUTES_PER_DAY, dtype=np.int64), counts)
    within = rng.integers(0, US_PER_MINUTE, size=minutes.size, dtype=np.int64)
    return np.sort(minutes * US_PER_MINUTE + within)
