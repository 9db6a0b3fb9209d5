"""One location's business, one day at a time: the events of every order created that day.

Each (location, day) has its own random streams, seeded from (seed, location, day), so any set of days
can be simulated in any order, by any number of processes, with identical results.
"""

from __future__ import annotations

import datetime as dt
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import polars as pl

from casper.config import EVENT_BODY_FIELDS, LocationConfig
from casper.generator import events as ev
from casper.generator.baskets import (
    Baskets,
    MenuArrays,
    brand_weights,
    draw_baskets,
    momentum_classes,
)
from casper.generator.demand import US_PER_DAY, order_offsets_us
from casper.generator.lifecycle import draw_lifecycle, draw_pings

EPOCH = dt.datetime(1970, 1, 1)
COORD_DECIMALS = 6
# Streams per (location, day); appending a new one later leaves the existing ones unchanged.
DEMAND, BASKETS, TIMING, CUSTOMERS, IDS, QUALITY = range(6)
STREAM_COUNT = 6
ORDER_ID_BYTES, EVENT_ID_BYTES = 8, 16
# the event types in block order (Kitchen._rows)
EVENT_TYPE_NAMES = pl.Series("event_type", list(EVENT_BODY_FIELDS), dtype=pl.String)
CREATED, PICKED_UP, PING, DELIVERED = (
    list(EVENT_BODY_FIELDS).index(name)
    for name in ("order_created", "driver_picked_up", "driver_ping", "delivered")
)


def to_us(moment: dt.datetime) -> int:
    return (moment - EPOCH) // dt.timedelta(microseconds=1)


def from_us(us: int) -> dt.datetime:
    return EPOCH + dt.timedelta(microseconds=int(us))


def _seed_words(seed: int) -> list[int]:
    """A seed of any sign and size as the non-negative 32-bit words SeedSequence takes."""
    sign = 1 if seed < 0 else 0
    magnitude = abs(seed)
    words = [sign]
    while True:
        words.append(magnitude & 0xFFFFFFFF)
        magnitude >>= 32
        if not magnitude:
            return words


@dataclass(frozen=True)
class Kitchen:
    """Everything fixed about one location for a simulation run."""

    config: LocationConfig
    seed: int
    sim_start_us: int  # the simulation window opens here (now - start_days_ago)
    menu: MenuArrays
    routes: object  # casper.roads.RouteTable
    given_route_texts: RouteTexts | None = field(default=None, compare=False, repr=False)

    @property
    def name(self) -> str:
        return self.config.location_name

    @property
    def gk_id(self) -> str:
        return f"gk-{self.config.location_name}"

    @property
    def sim_end_us(self) -> int:
        return self.sim_start_us + self.config.total_days * US_PER_DAY

    def rng(self, day_ordinal: int) -> list[np.random.Generator]:
        words = [*_seed_words(self.seed), zlib.crc32(self.name.encode()), day_ordinal]
        return [np.random.default_rng(s) for s in np.random.SeedSequence(words).spawn(STREAM_COUNT)]

    @cached_property
    def _fixed(self) -> tuple[np.ndarray, np.ndarray]:
        # ordinal 0 is no calendar day: this stream belongs to the location, not to a day
        fixed = self.rng(0)[BASKETS]
        classes = momentum_classes(fixed, self.config, self.menu.brand_count)
        popularity = fixed.lognormal(0.0, 0.35, self.menu.brand_count)
        return classes, popularity

    @property
    def momentum(self) -> np.ndarray:
        return self._fixed[0]

    def brand_weights(self, day_index: int) -> np.ndarray:
        classes, popularity = self._fixed
        return brand_weights(self.config, self.menu, classes, popularity, day_index)

    @cached_property
    def route_texts(self) -> RouteTexts:
        """The route table as JSON text, built once (or given: build_kitchens caches it on disk)."""
        return self.given_route_texts or RouteTexts.of(self.routes)

    @cached_property
    def _raw_address_tail(self) -> pl.Series:
        """What follows the house number in each destination's customer_addr JSON string, closing
        quote included (escaped as a JSON string: backslashes and quotes)."""
        suffix = f", {self.config.city}, {self.config.region}"
        street = pl.Series(self.routes.street, dtype=pl.String)
        return ev.json_string_content(" " + street + suffix) + '"'

    @cached_property
    def _texts(self) -> dict[ev.Spelling, DayTexts]:
        return {}

    def texts(self, spelling: ev.Spelling) -> DayTexts:
        """The kitchen's fixed body parts in `spelling`, built once per spelling."""
        cache = self._texts
        if spelling not in cache:
            cache[spelling] = DayTexts(
                quote=spelling.text('"'),
                address_tail=spelling.series(self._raw_address_tail),
                item_prefix=spelling.series(pl.Series(self.menu.item_json_prefix, dtype=pl.String)),
                empty=spelling.text("{}"),
            )
        return cache[spelling]

    def day_index(self, day: dt.date) -> int:
        return (day - from_us(self.sim_start_us).date()).days

    def simulate_day(self, day: dt.date) -> pl.DataFrame:
        """Every event of every order created on `day` inside the simulation window, sorted by time."""
        events = self._events([self._draw_day(day)], ev.Spelling.RAW)
        if events is None:
            return ev.empty_events()
        columns = events.columns()
        count = len(events.ts_us)
        return pl.DataFrame(
            {
                **columns,
                "gk_id": pl.repeat(self.gk_id, count, dtype=pl.String, eager=True),
                "location": pl.repeat(self.name, count, dtype=pl.String, eager=True),
                "ts_us": pl.Series(events.ts_us, dtype=pl.Int64),
            }
        ).select([*ev.EVENT_COLUMNS, "ts_us"])

    def days_ndjson(self, days: Sequence[dt.date], before_us: int | None = None) -> list[DayFile]:
        """Each day's landing file: exactly to_ndjson of simulate_day(day)'s events before
        `before_us`. The days are drawn one by one (each from its own streams); their text is built
        in one go, so polars' cost per call is paid once per batch of days rather than per day."""
        draws = [self._draw_day(day, before_us) for day in days]
        counts = [0 if d is None else d.events for d in draws]
        events = self._events(draws, ev.Spelling.ESCAPED)
        if events is None:
            parts = [b"" for _ in days]
        else:
            bounds = np.cumsum([0, *counts])
            parts = ev.ndjson_lines(events.columns(), self.gk_id, self.name, bounds)
        return [
            DayFile(day, data, count, 0 if draw is None else draw.landed_orders)
            for day, draw, data, count in zip(days, draws, parts, counts, strict=True)
        ]

    def _draw_day(self, day: dt.date, before_us: int | None = None) -> DayDraw | None:
        """Everything random about `day`'s orders, and which of their events land in what order;
        None when the kitchen does no business that day."""
        streams = self.rng(day.toordinal())
        day_index = self.day_index(day)
        midnight = to_us(dt.datetime.combine(day, dt.time()))
        weights = self.brand_weights(day_index)
        outside = midnight + US_PER_DAY <= self.sim_start_us or midnight >= self.sim_end_us
        if outside or not weights.any():
            # no business outside the window, nor on a day when no brand is selling
            return None
        created = midnight + order_offsets_us(streams[DEMAND], self.config, day, day_index)
        baskets = draw_baskets(streams[BASKETS], self.menu, weights, created.size)
        routes = self.routes
        destination = streams[CUSTOMERS].integers(0, routes.nodes.size, created.size)
        house = routes.block[destination] + 2 * streams[CUSTOMERS].integers(1, 50, created.size)
        life = draw_lifecycle(streams[TIMING], self.config, created, routes.dist_m[destination])
        pings = draw_pings(self.config, life.picked_up, life.drive_minutes)
        in_window = (created >= self.sim_start_us) & (created < self.sim_end_us)
        order_ids = streams[IDS].bytes(created.size * ORDER_ID_BYTES)

        n, p = created.size, pings.ts.size
        quality, dq = streams[QUALITY], self.config.dq
        nulls = {
            event_type: ev.dq_masks(
                quality, dq.get(event_type), EVENT_BODY_FIELDS[event_type], size
            )
            for event_type, size in (
                ("order_created", n),
                ("driver_picked_up", n),
                ("driver_ping", p),
                ("delivered", n),
            )
        }
        # every event, in blocks of EVENT_TYPE_NAMES order: created, started, finished, ready,
        # arrived, picked up (one per order each), the pings, delivered
        orders = np.arange(n)
        hops = np.bincount(pings.order_index, minlength=n) + 1
        order_index = np.concatenate([np.tile(orders, 6), pings.order_index, orders])
        ping_index = np.concatenate([np.full(6 * n, -1), np.arange(p), np.full(n, -1)])
        event_type = np.repeat(np.arange(8), [n, n, n, n, n, n, p, n])
        sequence = np.concatenate([np.repeat(np.arange(6), n), 5 + pings.hop, 5 + hops])
        ts_us = np.concatenate(
            [
                life.created,
                life.started,
                life.finished,
                life.ready,
                life.driver_arrived,
                life.picked_up,
                pings.ts,
                life.delivered,
            ]
        )
        kept = np.flatnonzero(in_window[order_index])
        event_ids = streams[IDS].bytes(kept.size * EVENT_ID_BYTES)  # in block order
        # landing order (ts_us, order_id, sequence); hex ids sort as their bytes read big-endian
        order_key = np.frombuffer(order_ids, dtype=f">u{ORDER_ID_BYTES}")
        landing = _landing_order(ts_us[kept], order_key[order_index[kept]], sequence[kept])
        if before_us is not None:
            landing = landing[ts_us[kept[landing]] < before_us]
        at = kept[landing]

        route_at = routes.route_offsets[destination[pings.order_index]]
        span = np.diff(routes.route_offsets)[destination[pings.order_index]]
        return DayDraw(
            destination=destination,
            house=house,
            drive_minutes=life.drive_minutes,
            order_ids=order_ids,
            baskets=baskets,
            ping_progress=pings.progress,
            ping_point=route_at + np.floor(pings.progress * (span - 1)).astype(np.int64),
            nulls=nulls,
            event_type=event_type[at],
            order=order_index[at],
            ping=ping_index[at],
            sequence=sequence[at].astype(np.int64),
            ts_us=ts_us[at].astype(np.int64),
            event_ids=np.frombuffer(event_ids, dtype=np.uint8)
            .reshape(-1, EVENT_ID_BYTES)[landing]
            .tobytes(),
        )

    def _events(
        self, draws: Sequence[DayDraw | None], spelling: ev.Spelling
    ) -> LandedEvents | None:
        """The landed events of the drawn days, one day after another, each in landing order,
        with their bodies in `spelling`; None when there are none."""
        draws = [d for d in draws if d is not None]
        if not sum(d.events for d in draws):
            return None
        routes = self.routes
        texts = self.texts(spelling)
        order_base = np.cumsum([0, *(d.orders for d in draws)])
        ping_base = np.cumsum([0, *(d.pings for d in draws)])
        n, p = int(order_base[-1]), int(ping_base[-1])

        def joined(name: str) -> np.ndarray:
            return np.concatenate([getattr(d, name) for d in draws])

        def nulls(event_type: str) -> dict[str, np.ndarray]:
            fields = draws[0].nulls[event_type]
            return {f: np.concatenate([d.nulls[event_type][f] for d in draws]) for f in fields}

        def body(fields: dict, event_type: str) -> pl.Expr:
            return ev.json_object(fields, nulls(event_type), spelling)

        point_lat, point_lon = self.route_texts.lat, self.route_texts.lon
        destination = joined("destination")
        last = routes.route_offsets[destination + 1] - 1  # the customer is at the route's end
        customer_lat, customer_lon = point_lat.gather(last), point_lon.gather(last)
        address = pl.concat_str(
            [
                pl.lit(texts.quote),
                pl.lit(pl.Series(joined("house"), dtype=pl.Int64)).cast(pl.String),
                pl.lit(texts.address_tail.gather(destination)),
            ]
        )
        baskets = Baskets(
            order_index=np.concatenate(
                [d.baskets.order_index + base for d, base in zip(draws, order_base, strict=False)]
            ),
            item_row=np.concatenate([d.baskets.item_row for d in draws]),
            qty=np.concatenate([d.baskets.qty for d in draws]),
        )
        per_order = pl.select(
            created=body(
                {
                    "customer_lat": customer_lat,
                    "customer_lon": customer_lon,
                    "customer_addr": address,
                    "items": self._items(baskets, n, texts),
                },
                "order_created",
            ),
            picked=body(
                {
                    "route_points": self.route_texts.route.gather(destination),
                    "eta_mins": ev.number(joined("drive_minutes"), 1),
                },
                "driver_picked_up",
            ),
            delivered=body(
                {"delivered_lat": customer_lat, "delivered_lon": customer_lon}, "delivered"
            ),
        )
        point = joined("ping_point")
        ping_body = pl.select(
            body(
                {
                    "progress_pct": ev.number(joined("ping_progress") * 100.0, 1),
                    "loc_lat": point_lat.gather(point),
                    "loc_lon": point_lon.gather(point),
                },
                "driver_ping",
            )
        ).to_series()
        bodies = pl.concat(
            [
                per_order["created"],
                per_order["picked"],
                ping_body,
                per_order["delivered"],
                pl.Series([texts.empty], dtype=pl.String),
            ]
        ).rechunk()  # gathering from one chunk is many times faster than from several

        # each landed event's body in `bodies`: per order for created, picked up and delivered,
        # per ping for pings, the one empty body for the rest
        event_type = joined("event_type")
        order = np.concatenate([d.order + base for d, base in zip(draws, order_base, strict=False)])
        ping = np.concatenate([d.ping + base for d, base in zip(draws, ping_base, strict=False)])
        empty = 3 * n + p
        block_start = np.array([0, empty, empty, empty, empty, n, 2 * n, 2 * n + p])
        within = np.where(event_type == PING, ping, np.where(event_type == DELIVERED, order, 0))
        within = np.where((event_type == CREATED) | (event_type == PICKED_UP), order, within)
        return LandedEvents(
            event_type=event_type,
            ts_us=joined("ts_us"),
            sequence=joined("sequence"),
            order=order,
            event_ids=b"".join(d.event_ids for d in draws),
            order_ids=b"".join(d.order_ids for d in draws),
            body=bodies.gather(block_start[event_type] + within),
        )

    def _items(self, baskets: Baskets, n: int, texts: DayTexts) -> pl.Series:
        """Each order's items JSON array; the basket's lines come grouped by order, in order."""
        bounds = np.searchsorted(baskets.order_index, np.arange(n + 1))
        first = np.zeros(baskets.order_index.size, dtype=bool)
        last = np.zeros(baskets.order_index.size, dtype=bool)
        nonempty = bounds[1:] > bounds[:-1]
        first[bounds[:-1][nonempty]] = True
        last[bounds[1:][nonempty] - 1] = True
        lines = pl.select(
            pl.concat_str(
                [
                    pl.when(pl.lit(pl.Series(first))).then(pl.lit("[")).otherwise(pl.lit("")),
                    pl.lit(texts.item_prefix.gather(baskets.item_row)),
                    pl.lit(pl.Series(baskets.qty, dtype=pl.Int64)).cast(pl.String),
                    pl.when(pl.lit(pl.Series(last))).then(pl.lit("}]")).otherwise(pl.lit("}, ")),
                ]
            )
        ).to_series()
        return ev.runs_joined(lines, bounds, empty="[]")


def _landing_order(ts_us: np.ndarray, order_key: np.ndarray, sequence: np.ndarray) -> np.ndarray:
    """The permutation sorting events by (ts_us, order_key, sequence). Times rarely tie, and
    without ties the order by time alone is that order: the full sort only runs when they do."""
    by_time = np.argsort(ts_us, kind="stable")
    if not (np.diff(ts_us[by_time]) == 0).any():
        return by_time
    return np.lexsort((sequence, order_key, ts_us))


@dataclass(frozen=True, eq=False)
class RouteTexts:
    """A route table as JSON text: each route point's coordinates (customers and pings are at
    route points) and each destination's route_points array. Numbers, brackets and commas only:
    the same text in both spellings."""

    route: pl.Series  # per destination
    lat: pl.Series  # per route point
    lon: pl.Series

    @classmethod
    def of(cls, routes) -> RouteTexts:
        lat = ev.number(routes.route_lat, COORD_DECIMALS)
        lon = ev.number(routes.route_lon, COORD_DECIMALS)
        # every point as "[lat, lon], "; a route is its points' run without the last ", "
        points = pl.select(
            pl.concat_str([pl.lit("["), pl.lit(lat), pl.lit(", "), pl.lit(lon), pl.lit("], ")])
        ).to_series()
        runs = ev.runs_joined(points, routes.route_offsets, empty="")
        route = pl.select(
            pl.concat_str([pl.lit("["), pl.lit(runs).str.head(-2), pl.lit("]")])
        ).to_series()
        return cls(route=route, lat=lat, lon=lon)


@dataclass(frozen=True, eq=False)
class LandedEvents:
    """The landed events of a batch of days, one day after another, each in landing order."""

    event_type: np.ndarray  # position in EVENT_TYPE_NAMES
    ts_us: np.ndarray
    sequence: np.ndarray
    order: np.ndarray  # the event's order, as the position of its id in order_ids
    event_ids: bytes  # EVENT_ID_BYTES per event
    order_ids: bytes  # ORDER_ID_BYTES per order of the days (landed or not)
    body: pl.Series

    def columns(self) -> dict[str, pl.Series]:
        """event_id, event_type, ts, order_id, sequence and body."""
        return {
            "event_id": ev.hex_text(self.event_ids, EVENT_ID_BYTES),
            "event_type": EVENT_TYPE_NAMES.gather(self.event_type),
            "ts": ev.timestamps(self.ts_us),
            "order_id": ev.hex_text(self.order_ids, ORDER_ID_BYTES).gather(self.order),
            "sequence": pl.Series(self.sequence, dtype=pl.Int64),
            "body": self.body,
        }


@dataclass(frozen=True)
class DayFile:
    """One day's landing file (history): its bytes, its events and the orders they belong to."""

    day: dt.date
    data: bytes
    events: int
    orders: int


@dataclass(frozen=True)
class DayDraw:
    """One day's orders and landed events as numbers: everything about them but their text."""

    # per order created that day, in or out of the window
    destination: np.ndarray
    house: np.ndarray
    drive_minutes: np.ndarray
    order_ids: bytes  # ORDER_ID_BYTES each
    baskets: Baskets
    # per driver ping
    ping_progress: np.ndarray
    ping_point: np.ndarray  # the route point it is at, in the route table's points
    nulls: dict[str, dict[str, np.ndarray]]  # event type -> body field -> rows written as null
    # per landed event, in landing order
    event_type: np.ndarray  # position in EVENT_TYPE_NAMES
    order: np.ndarray  # among the day's orders
    ping: np.ndarray  # among the day's pings (-1: not a ping)
    sequence: np.ndarray
    ts_us: np.ndarray
    event_ids: bytes  # EVENT_ID_BYTES each

    @property
    def orders(self) -> int:
        return int(self.destination.size)

    @property
    def pings(self) -> int:
        return int(self.ping_progress.size)

    @property
    def events(self) -> int:
        return int(self.event_type.size)

    @property
    def landed_orders(self) -> int:
        return int(np.unique(self.order).size)


@dataclass(frozen=True)
class DayTexts:
    """A kitchen's fixed body parts in one spelling."""

    quote: str  # the quotes around customer_addr
    address_tail: pl.Series  # per destination: " <street>, <city>, <region>" and the closing quote
    item_prefix: pl.Series  # per menu item: '{"id": .., ..., "price": .., "qty": '
    empty: str  # the body of an event without fields
