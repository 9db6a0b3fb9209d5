"""Properties of every simulated order, over random configs, seeds and days (SPEC.md sections 1-2).

Each hypothesis example varies the San Francisco kitchen's config (service times, driver arrival,
ping interval, driver speed, DQ probabilities, brand momentum, demand, window) and seed, simulates one
day of its window and checks every order against the SPEC: lifecycle shape, timing, routes, bodies,
ids, DQ nulls. Variants reuse the session kitchen's route table, so no road network is rebuilt.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections import Counter

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from casper.config import EVENT_BODY_FIELDS
from casper.generator.events import to_ndjson
from casper.generator.lifecycle import draw_lifecycle
from casper.generator.simulation import Kitchen, from_us, to_us
from tests.generator_fixtures import (
    BODY_KEYS,
    ITEM_KEYS,
    NON_PING_SEQUENCE,
    TOP_LEVEL,
    US_PER_DAY,
    US_PER_MINUTE,
    Base,
    Order,
    base,
    catalog_items,
    orders_of,
    path_length_m,
    variant,
    window_days,
)

TS_RE = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{6}")
HEX32_RE = re.compile(r"[0-9a-f]{32}")
FLOOR_US = 6_000_000  # SPEC: each service step is a normal draw floored at 0.1 minute
COORD_TOL = 5e-7 + 1e-9  # coordinates are written with six decimals
SIM_BASE = dt.datetime(2025, 3, 7)

# Example counts: the whole file stays well under a minute.
PROPERTY_EXAMPLES = 150
DQ_EXAMPLES = 50


@pytest.fixture(scope="session")
def sf(tmp_path_factory) -> Base:
    return base(tmp_path_factory.getbasetemp() / "generator-roads")


@pytest.fixture(scope="session")
def route_ends(sf: Base) -> dict[tuple[float, float], list[int]]:
    """Rounded end coordinates of each destination's route -> destination indices."""
    routes = sf.kitchen.routes
    last = routes.route_offsets[1:] - 1
    ends: dict[tuple[float, float], list[int]] = {}
    for i, (lat, lon) in enumerate(
        zip(np.round(routes.route_lat[last], 6), np.round(routes.route_lon[last], 6), strict=True)
    ):
        ends.setdefault(coord_key((float(lat), float(lon))), []).append(i)
    return ends


def coord_key(point) -> tuple[float, float]:
    return (round(point[0], 6), round(point[1], 6))


# --------------------------------------------------------------------------- strategies

svc_pair = st.tuples(
    st.floats(0, 30, allow_subnormal=False), st.floats(0, 10, allow_subnormal=False)
).map(list)
# Every DQ-able body field: unconfigured, never, always, or sometimes null.
DQ_FIELDS = [(t, f) for t, fields in EVENT_BODY_FIELDS.items() for f in fields]
dq_probability = st.one_of(
    st.none(), st.just(0.0), st.just(1.0), st.floats(0.01, 0.99, allow_subnormal=False)
)


@st.composite
def dq_configs(draw, fields=DQ_FIELDS) -> dict[str, dict[str, float]]:
    dq: dict[str, dict[str, float]] = {}
    for event_type, name in fields:
        p = draw(dq_probability)
        if p is not None:
            dq.setdefault(event_type, {})[name] = p
    if draw(st.booleans()):
        dq.setdefault("gk_started", {})  # a type without body fields: an empty rule is allowed
    return dq


@st.composite
def momentum(draw) -> dict:
    improving = draw(st.integers(0, 20))
    flat = draw(st.integers(0, 20 - improving))
    return {
        "brand_momentum": {
            "improving": improving / 20,
            "flat": flat / 20,
            "declining": (20 - improving - flat) / 20,
        },
        "momentum_rates": {
            "growth": draw(st.floats(0, 3, allow_subnormal=False)),
            # decline 1 would zero every declining brand; with all brands declining no basket is
            # possible at all (see the report), so stay below it
            "decline": draw(st.floats(0, 0.95, allow_subnormal=False)),
        },
    }


@st.composite
def kitchens(draw, sf: Base, dq=None) -> tuple[Kitchen, dt.date]:
    """A variant of the session kitchen and one calendar day of its simulation window."""
    update = {
        "svc": {k: draw(svc_pair) for k in ("cs", "sf", "fr", "rp")},
        "driver_arrival": {
            "alpha": draw(st.floats(0.1, 10, allow_subnormal=False)),
            "beta": draw(st.floats(0.1, 10, allow_subnormal=False)),
            "after_ready_pct": draw(st.floats(0, 1, allow_subnormal=False)),
        },
        # the slowest driver and shortest ping keep hops under 1000, so one-decimal progress
        # percentages stay distinct (the longest route is ~7.4 km)
        "ping_sec": draw(st.floats(5, 300, allow_subnormal=False)),
        "driver_mph": draw(st.floats(5, 60, allow_subnormal=False)),
        "dq": draw(dq_configs()) if dq is None else dq,
        "orders_day_1": draw(st.floats(0, 90, allow_subnormal=False)),
        "orders_last": draw(st.floats(0, 90, allow_subnormal=False)),
        "noise_pct": draw(st.floats(0, 50, allow_subnormal=False)),
        "demand_curve": draw(st.sampled_from(["linear", "exponential"])),
        "start_days_ago": draw(st.integers(0, 40)),
        "end_days_ahead": draw(st.integers(0, 40)),
        **draw(momentum()),
    }
    config = sf.kitchen.config.model_validate({**sf.kitchen.config.model_dump(), **update})
    sim_start_us = to_us(SIM_BASE) + draw(st.integers(0, US_PER_DAY - 1))
    kitchen = Kitchen(
        config=config,
        seed=draw(st.integers(-(2**70), 2**70)),
        sim_start_us=sim_start_us,
        menu=sf.kitchen.menu,
        routes=sf.kitchen.routes,
    )
    day = draw(st.sampled_from(window_days(kitchen)))
    return kitchen, day


# --------------------------------------------------------------------------- checks


def is_float(value) -> bool:
    return isinstance(value, float)


def is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_bodies_and_nulls(order: Order, dq: dict[str, dict[str, float]]) -> None:
    """Body keys exactly as the SPEC; a null only where DQ configures it; p=1 always null."""
    for event in order.events:
        event_type, body = event["event_type"], event["body"]
        assert isinstance(body, dict)
        assert list(body) == BODY_KEYS[event_type], (event_type, body)
        rules = dq.get(event_type, {})
        for name, value in body.items():
            p = rules.get(name, 0.0)
            if p == 0.0:
                assert value is not None, f"{event_type}.{name} null without a DQ rule"
            elif p == 1.0:
                assert value is None, f"{event_type}.{name} has DQ probability 1 but is not null"


def check_items(items: list) -> None:
    catalog = catalog_items()
    assert isinstance(items, list)
    by_brand: dict[int, list[int]] = {}
    for item in items:
        assert list(item) == ITEM_KEYS
        for key in ("id", "category_id", "menu_id", "brand_id", "qty"):
            assert is_int(item[key]), (key, item)
        assert isinstance(item["name"], str)
        assert is_float(item["price"])
        assert 1 <= item["qty"] <= 3
        expected = catalog[item["id"]]
        assert {k: item[k] for k in expected} == expected
        by_brand.setdefault(item["brand_id"], []).append(item["id"])
    assert 1 <= len(by_brand) <= 4, by_brand
    for ids in by_brand.values():
        assert 1 <= len(ids) <= 4
        assert len(set(ids)) == len(ids), "an item appears twice for one brand"


def check_order(
    order: Order,
    kitchen: Kitchen,
    day: dt.date,
    kitchen_node: tuple[float, float],
    route_ends: dict[tuple[float, float], list[int]],
) -> None:
    config = kitchen.config
    routes = kitchen.routes
    events = order.events

    # --- lifecycle shape (SPEC table)
    assert [e["sequence"] for e in events] == list(range(len(events)))
    types = [e["event_type"] for e in events]
    assert types[:6] == list(NON_PING_SEQUENCE)
    assert types[-1] == "delivered"
    assert all(t == "driver_ping" for t in types[6:-1])
    counts = Counter(types)
    assert all(counts[t] == 1 for t in [*NON_PING_SEQUENCE, "delivered"])

    # --- top-level columns
    for e in events:
        assert TS_RE.fullmatch(e["ts"]), e["ts"]
        assert e["ts"] == from_us(e["ts_us"]).strftime("%Y-%m-%d %H:%M:%S.%f")
        assert HEX32_RE.fullmatch(e["event_id"]), e["event_id"]
        assert e["gk_id"] == kitchen.gk_id
        assert e["location"] == config.location_name
        assert isinstance(e["order_id"], str) and e["order_id"]

    # --- timing
    t = {e["event_type"]: e["ts_us"] for e in events if e["event_type"] != "driver_ping"}
    assert kitchen.sim_start_us <= t["order_created"] < kitchen.sim_end_us
    assert from_us(t["order_created"]).date() == day
    steps = ["order_created", "gk_started", "gk_finished", "gk_ready", "driver_picked_up"]
    for earlier, later in zip(steps, steps[1:], strict=False):
        assert t[later] - t[earlier] >= FLOOR_US - 1, (earlier, later)
    assert t["order_created"] <= t["driver_arrived"] < t["driver_picked_up"]
    pings = order.pings
    ping_ts = [p["ts_us"] for p in pings]
    assert all(a < b for a, b in zip([t["driver_picked_up"], *ping_ts], ping_ts, strict=False))
    assert all(ts <= t["delivered"] for ts in ping_ts)
    assert t["driver_picked_up"] <= t["delivered"]

    # --- bodies
    check_bodies_and_nulls(order, config.dq)
    created = order.one("order_created")["body"]
    picked = order.one("driver_picked_up")["body"]
    delivered = order.one("delivered")["body"]
    customer = (created["customer_lat"], created["customer_lon"])
    for value in customer:
        assert value is None or is_float(value)
    assert created["customer_addr"] is None or isinstance(created["customer_addr"], str)
    if created["items"] is not None:
        check_items(created["items"])
    if customer[0] is not None and customer[1] is not None:
        for got, want in zip(
            (delivered["delivered_lat"], delivered["delivered_lon"]), customer, strict=True
        ):
            assert got is None or got == want, "delivered somewhere else than the customer"
    for value in delivered.values():
        assert value is None or is_float(value)

    # --- route: which destination is it? (route end, else customer, else delivery point)
    route = picked["route_points"]
    candidates = []
    if route is not None:
        assert isinstance(route, list) and len(route) >= 2
        assert all(len(p) == 2 and is_float(p[0]) and is_float(p[1]) for p in route)
        assert abs(route[0][0] - kitchen_node[0]) <= COORD_TOL
        assert abs(route[0][1] - kitchen_node[1]) <= COORD_TOL
        if None not in customer:
            assert tuple(route[-1]) == customer, "route does not end at the customer"
        candidates.append(tuple(route[-1]))
    if None not in customer:
        candidates.append(customer)
    if None not in delivered.values():
        candidates.append((delivered["delivered_lat"], delivered["delivered_lon"]))
    if not candidates:
        return  # every locating field nulled by DQ
    (destination,) = route_ends[coord_key(candidates[0])]
    expected_route = [
        [round(lat, 6), round(lon, 6)] for lat, lon in routes.route_points(destination)
    ]
    points = expected_route if route is None else route
    assert len(points) == len(expected_route)
    for got, want in zip(points, expected_route, strict=True):
        assert abs(got[0] - want[0]) <= COORD_TOL and abs(got[1] - want[1]) <= COORD_TOL
    if route is not None:
        # the route table's road distance is the length of the drawn route
        assert math.isclose(
            path_length_m(route), routes.dist_m[destination], rel_tol=1e-3, abs_tol=1
        )

    # --- drive time: route miles / mph * 60, eta one decimal, delivered - picked_up equals it
    drive_minutes = routes.dist_m[destination] / 1609.344 / config.driver_mph * 60.0
    drive_us = t["delivered"] - t["driver_picked_up"]
    assert abs(drive_us - drive_minutes * US_PER_MINUTE) <= 1
    eta = picked["eta_mins"]
    if eta is not None:
        assert is_float(eta)
        assert abs(eta - drive_minutes) <= 0.05 + 1e-9
        assert round(eta, 1) == eta
        assert abs(drive_us / US_PER_MINUTE - eta) <= 0.05 + 1e-6

    # --- pings: hops = max(1, floor(drive seconds / ping_sec)), ping h at h * ping_sec, progress
    # h / hops, located at route point floor(progress * (n - 1))
    hops = max(1, math.floor(drive_minutes * 60.0 / config.ping_sec))
    assert len(pings) == hops - 1
    progress_seen = []
    for h, ping in enumerate(pings, start=1):
        body = ping["body"]
        assert ping["sequence"] == 5 + h
        assert abs(ping["ts_us"] - t["driver_picked_up"] - h * config.ping_sec * 1e6) <= 1_000
        progress = h / hops
        if body["progress_pct"] is not None:
            assert is_float(body["progress_pct"])
            assert 0 < body["progress_pct"] < 100
            assert abs(body["progress_pct"] - progress * 100) <= 0.05 + 1e-9
            progress_seen.append(body["progress_pct"])
        # exactly a point of the drawn route (or, with the route nulled, of the table's route)
        point = points[math.floor(progress * (len(points) - 1))]
        for got, want in zip((body["loc_lat"], body["loc_lon"]), point, strict=True):
            if got is not None:
                assert is_float(got)
                close = abs(got - want) <= COORD_TOL
                assert got == want if route is not None else close, "ping off its route point"
    assert all(a < b for a, b in zip(progress_seen, progress_seen[1:], strict=False))


def check_day(kitchen: Kitchen, day: dt.date, sf: Base, route_ends) -> dict[str, Order]:
    events = kitchen.simulate_day(day)
    assert events.columns == [*TOP_LEVEL, "ts_us"]
    assert events["event_id"].n_unique() == events.height, "duplicate event ids"
    orders = orders_of(events)
    # each order has exactly one order_created (checked per order), so ids are unique per order
    assert events.filter(pl.col("event_type") == "order_created").height == len(orders)
    for order in orders.values():
        check_order(order, kitchen, day, sf.kitchen_node_latlon, route_ends)
    return orders


# --------------------------------------------------------------------------- tests


def test_session_kitchen_sanity(sf: Base, route_ends) -> None:
    """The fixture the properties rely on: a real day with orders, pings and multi-brand baskets."""
    kitchen = variant(sf.kitchen, orders_day_1=300, orders_last=300)
    orders = check_day(kitchen, dt.date(2025, 1, 16), sf, route_ends)
    assert len(orders) > 200
    assert sum(len(o.pings) for o in orders.values()) > 0
    assert any(
        len({i["brand_id"] for i in o.one("order_created")["body"]["items"]}) > 1
        for o in orders.values()
    )
    # and the kitchen node is the road node nearest the configured kitchen (within a block)
    lat, lon = sf.kitchen.config.kitchen
    assert abs(sf.kitchen_node_latlon[0] - lat) < 0.002
    assert abs(sf.kitchen_node_latlon[1] - lon) < 0.002


@pytest.mark.slow
def test_every_order_follows_the_spec(sf: Base, route_ends) -> None:
    @settings(
        max_examples=PROPERTY_EXAMPLES,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(st.data())
    def run(data) -> None:
        kitchen, day = data.draw(kitchens(sf))
        check_day(kitchen, day, sf, route_ends)

    run()


def test_dq_nulls_only_where_configured(sf: Base, route_ends) -> None:
    """Many orders per day, so p in (0, 1) shows both values and nulls; nothing else is ever null."""

    @settings(max_examples=DQ_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.data())
    def run(data) -> None:
        dq = data.draw(dq_configs())
        seed = data.draw(st.integers(0, 2**32))
        kitchen = variant(
            sf.kitchen,
            seed=seed,
            dq=dq,
            orders_day_1=120,
            orders_last=120,
            ping_sec=30,
            noise_pct=0,
        )
        orders = check_day(kitchen, dt.date(2025, 1, 16), sf, route_ends)
        nulls: Counter[tuple[str, str]] = Counter()
        totals: Counter[tuple[str, str]] = Counter()
        for order in orders.values():
            for event in order.events:
                for name, value in event["body"].items():
                    totals[event["event_type"], name] += 1
                    nulls[event["event_type"], name] += value is None
        for (event_type, name), total in totals.items():
            p = dq.get(event_type, {}).get(name, 0.0)
            share = nulls[event_type, name] / total
            if p == 0.0:
                assert share == 0.0
            elif p == 1.0:
                assert share == 1.0
            elif total >= 100:
                # binomial: 6 standard errors (plus the 1/total of a single row)
                tol = 6 * math.sqrt(p * (1 - p) / total) + 1 / total
                assert abs(share - p) <= tol, (event_type, name, p, share, total)

    run()


def test_driver_arrives_strictly_before_pickup_even_at_the_window_end(sf: Base) -> None:
    """A Beta(50, 0.02) draw is often exactly 1.0 in floating point: the arrival would land on the
    pickup itself; SPEC: it is always strictly before pickup."""
    n = 20_000
    config = variant(
        sf.kitchen, driver_arrival={"alpha": 50.0, "beta": 0.02, "after_ready_pct": 1.0}
    ).config
    created = np.zeros(n, dtype=np.int64)
    life = draw_lifecycle(np.random.default_rng(5), config, created, np.full(n, 2e3))
    assert (life.driver_arrived >= life.ready).all()
    assert (life.driver_arrived < life.picked_up).all()
    assert (life.driver_arrived == life.picked_up - 1).mean() > 0.1  # the case really occurs


def test_same_kitchen_and_day_give_identical_frames(sf: Base) -> None:
    kitchen = variant(sf.kitchen, orders_day_1=80, orders_last=80, seed=123)
    day, other_day = dt.date(2025, 1, 17), dt.date(2025, 1, 18)
    first = kitchen.simulate_day(day)
    assert first.height > 0
    assert first.equals(kitchen.simulate_day(day))
    # a fresh kitchen, simulating another day first: days do not depend on what ran before
    fresh = variant(sf.kitchen, orders_day_1=80, orders_last=80, seed=123)
    fresh.simulate_day(other_day)
    assert first.equals(fresh.simulate_day(day))


def test_different_seeds_and_days_give_different_ids(sf: Base) -> None:
    one = variant(sf.kitchen, orders_day_1=80, orders_last=80, seed=1)
    two = variant(sf.kitchen, orders_day_1=80, orders_last=80, seed=2)
    day = dt.date(2025, 1, 17)
    a, b = one.simulate_day(day), two.simulate_day(day)
    c = one.simulate_day(day + dt.timedelta(days=1))
    assert not set(a["event_id"]) & set(b["event_id"])
    assert not set(a["order_id"]) & set(b["order_id"])
    assert not set(a["order_id"]) & set(c["order_id"])
    assert not set(a["event_id"]) & set(c["event_id"])
    assert not a.select("ts_us").equals(b.select("ts_us"))


def test_days_outside_the_window_have_no_orders(sf: Base) -> None:
    """simulate_day returns only orders created inside the window; a day outside it has none.

    The live stream asks for the day before its first position and the day after the window
    (casper/generator/live.py), so these days are really simulated.
    """
    start = dt.datetime(2025, 2, 1, 9, 30)
    # growing from 1 to 1000 orders a day: the demand line extrapolated to day -1 is negative
    growing = variant(
        sf.kitchen, sim_start_us=to_us(start), start_days_ago=0, orders_day_1=1, orders_last=1000
    )
    # shrinking to 0 orders a day: extrapolated past the last day it is negative
    shrinking = variant(
        sf.kitchen, sim_start_us=to_us(start), start_days_ago=0, orders_day_1=1000, orders_last=0
    )
    before = start.date() - dt.timedelta(days=1)
    after = window_days(shrinking)[-1] + dt.timedelta(days=1)
    for kitchen, day in ((growing, before), (shrinking, after), (growing, after)):
        assert kitchen.simulate_day(day).is_empty(), (kitchen.config.orders_last, day)


def test_partial_first_and_last_days_keep_only_window_orders(sf: Base) -> None:
    start = dt.datetime(2025, 2, 1, 9, 30)
    kitchen = variant(
        sf.kitchen,
        sim_start_us=to_us(start),
        start_days_ago=0,
        end_days_ahead=3,
        orders_day_1=400,
        orders_last=400,
    )
    days = window_days(kitchen)
    assert len(days) == 4  # 09:30 on day 0 to 09:30 on day 3
    for day in (days[0], days[-1]):
        created = (
            kitchen.simulate_day(day)
            .filter(pl.col("event_type") == "order_created")["ts_us"]
            .to_numpy()
        )
        assert created.size > 10
        assert (created >= kitchen.sim_start_us).all() and (created < kitchen.sim_end_us).all()
    # the first day holds the orders after 09:30 only, the last those before it
    first = kitchen.simulate_day(days[0]).filter(pl.col("event_type") == "order_created")
    last = kitchen.simulate_day(days[-1]).filter(pl.col("event_type") == "order_created")
    assert first["ts_us"].min() >= to_us(start)
    assert last["ts_us"].max() < to_us(start + dt.timedelta(days=3))


def test_ndjson_lines_have_the_spec_top_level_fields(sf: Base) -> None:
    kitchen = variant(sf.kitchen, orders_day_1=60, orders_last=60, seed=9)
    events = kitchen.simulate_day(dt.date(2025, 1, 17))
    assert events.height > 0
    data = to_ndjson(events)
    lines = data.decode("utf-8").splitlines()
    assert len(lines) == events.height
    for line, row in zip(lines, events.iter_rows(named=True), strict=True):
        record = json.loads(line)
        assert list(record) == TOP_LEVEL
        for key in ("event_id", "event_type", "ts", "gk_id", "location", "order_id", "body"):
            assert isinstance(record[key], str), key
        assert is_int(record["sequence"])
        assert record["event_type"] in BODY_KEYS
        body = json.loads(record["body"])
        assert isinstance(body, dict)
        assert list(body) == BODY_KEYS[record["event_type"]]
        assert record == {k: row[k] for k in TOP_LEVEL}
    assert to_ndjson(events.clear()) == b""
