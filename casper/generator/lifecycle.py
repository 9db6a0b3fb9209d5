"""When each step of an order happens (SPEC.md section 1, timing model). All times in microseconds."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from casper.config import LocationConfig
from casper.generator.demand import US_PER_MINUTE

GAUSS_FLOOR_MINUTES = 0.1
METRES_PER_MILE = 1609.344


def gauss_minutes(rng: np.random.Generator, mean_sd: tuple[float, float], size: int) -> np.ndarray:
    """Normal draw in minutes, floored at 0.1 so every step takes some time."""
    mean, sd = mean_sd
    return np.maximum(GAUSS_FLOOR_MINUTES, rng.normal(mean, sd, size))


def _us(minutes: np.ndarray) -> np.ndarray:
    return np.round(minutes * US_PER_MINUTE).astype(np.int64)


@dataclass(frozen=True)
class Lifecycle:
    created: np.ndarray
    started: np.ndarray
    finished: np.ndarray
    ready: np.ndarray
    driver_arrived: np.ndarray
    picked_up: np.ndarray
    delivered: np.ndarray
    drive_minutes: np.ndarray


def draw_lifecycle(
    rng: np.random.Generator,
    config: LocationConfig,
    created: np.ndarray,
    route_metres: np.ndarray,
) -> Lifecycle:
    size = created.size
    svc = config.svc
    started = created + _us(gauss_minutes(rng, svc.cs, size))
    finished = started + _us(gauss_minutes(rng, svc.sf, size))
    ready = finished + _us(gauss_minutes(rng, svc.fr, size))
    picked_up = ready + _us(gauss_minutes(rng, svc.rp, size))

    arrival = config.driver_arrival
    after_ready = rng.random(size) < arrival.after_ready_pct
    window_start = np.where(after_ready, ready, created)
    window_end = np.where(after_ready, picked_up, ready)
    fraction = rng.beta(arrival.alpha, arrival.beta, size)
    driver_arrived = window_start + np.floor(fraction * (window_end - window_start)).astype(
        np.int64
    )
    # strictly before pickup, even when rounding lands on it
    driver_arrived = np.minimum(driver_arrived, picked_up - 1)

    drive_minutes = route_metres / METRES_PER_MILE / config.driver_mph * 60.0
    delivered = picked_up + _us(drive_minutes)
    return Lifecycle(
        created=created,
        started=started,
        finished=finished,
        ready=ready,
        driver_arrived=driver_arrived,
        picked_up=picked_up,
        delivered=delivered,
        drive_minutes=drive_minutes,
    )


@dataclass(frozen=True)
class Pings:
    """One row per driver_ping: its order, hop number, time and progress."""

    order_index: np.ndarray
    hop: np.ndarray
    ts: np.ndarray
    progress: np.ndarray  # h / hops, in [0, 1)


def draw_pings(config: LocationConfig, picked_up: np.ndarray, drive_minutes: np.ndarray) -> Pings:
    """hops = max(1, floor(drive seconds / ping_sec)); a ping at each hop 1..hops-1."""
    hops = np.maximum(1, np.floor(drive_minutes * 60.0 / config.ping_sec).astype(np.int64))
    per_order = hops - 1
    order_index = np.repeat(np.arange(picked_up.size), per_order)
    first_of_order = np.cumsum(per_order) - per_order
    hop = np.arange(order_index.size) - np.repeat(first_of_order, per_order) + 1
    ping_us = int(round(config.ping_sec * 1_000_000))
    ts = picked_up[order_index] + hop * ping_us
    progress = hop / hops[order_index]
    return Pings(order_index=order_index, hop=hop, ts=ts, progress=progress)
