"""One location's business, one day at a time: the events of every order created that day.

Each (location, day) has its own random streams, seeded from (seed, location, day), so any set of days
can be simulated in any order, by any number of processes, with identical results.
"""

from __future__ import annotations

import datetime as dt
import zlib
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import polars as pl

from casper.config import EVENT_BODY_FIELDS, LocationConfig
from casper.generator import events as ev
from casper.generator.baskets import MenuArrays, brand_weights, draw_baskets, momentum_classes
from casper.generator.demand import US_PER_DAY, order_offsets_us
from casper.generator.lifecycle import draw_lifecycle, draw_pings

EPOCH = dt.datetime(1970, 1, 1)
COORD_DECIMALS = 6
# Streams per (location, day); appending a new one later leaves the existing ones unchanged.
DEMAND, BASKETS, TIMING, CUSTOMERS, IDS, QUALITY = range(6)
STREAM_COUNT = 6


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
    def route_json(self) -> np.ndarray:
        """Each destination's route_points as JSON text, built once: orders only look theirs up."""
        routes = self.routes
        counts = np.diff(routes.route_offsets)
        points = pl.DataFrame(
            {
                "destination": np.repeat(np.arange(counts.size), counts),
                "lat": np.round(routes.route_lat, COORD_DECIMALS),
                "lon": np.round(routes.route_lon, COORD_DECIMALS),
            }
        )
        joined = (
            points.group_by("destination", maintain_order=True)
            .agg(
                pl.concat_str(
                    [
                        pl.lit("["),
                        pl.col("lat").cast(pl.String),
                        pl.lit(", "),
                        pl.col("lon").cast(pl.String),
                        pl.lit("]"),
                    ]
                )
                .str.join(", ")
                .alias("points")
            )
            .sort("destination")
        )
        return ("[" + joined["points"].to_numpy().astype(object) + "]").astype(object)

    def day_index(self, day: dt.date) -> int:
        return (day - from_us(self.sim_start_us).date()).days

    def simulate_day(self, day: dt.date) -> pl.DataFrame:
        """Every event of every order created on `day` inside the simulation window, sorted by time."""
        streams = self.rng(day.toordinal())
        day_index = self.day_index(day)
        midnight = to_us(dt.datetime.combine(day, dt.time()))
        weights = self.brand_weights(day_index)
        outside = midnight + US_PER_DAY <= self.sim_start_us or midnight >= self.sim_end_us
        if outside or not weights.any():
            # no business outside the window, nor on a day when no brand is selling
            return ev.empty_events().select([*ev.EVENT_COLUMNS, "ts_us"])
        created = midnight + order_offsets_us(streams[DEMAND], self.config, day, day_index)
        baskets = draw_baskets(streams[BASKETS], self.menu, weights, created.size)
        routes = self.routes
        destination = streams[CUSTOMERS].integers(0, routes.nodes.size, created.size)
        house = routes.block[destination] + 2 * streams[CUSTOMERS].integers(1, 50, created.size)
        life = draw_lifecycle(streams[TIMING], self.config, created, routes.dist_m[destination])
        pings = draw_pings(self.config, life.picked_up, life.drive_minutes)

        in_window = (created >= self.sim_start_us) & (created < self.sim_end_us)
        order_ids = ev.hex_ids(streams[IDS], created.size, 8)
        events = self._assemble(streams[QUALITY], life, pings, baskets, destination, house)
        events = events.filter(pl.col("order_index").is_in(np.flatnonzero(in_window)))
        event_ids = ev.hex_ids(streams[IDS], events.height, 16)
        return (
            events.with_columns(
                event_id=pl.Series(event_ids),
                order_id=pl.Series(order_ids[events["order_index"].to_numpy()]),
                gk_id=pl.lit(self.gk_id),
                location=pl.lit(self.name),
                ts=pl.from_epoch("ts_us", time_unit="us").dt.strftime(ev.TS_FORMAT),
            )
            .sort(["ts_us", "order_id", "sequence"])
            .select([*ev.EVENT_COLUMNS, "ts_us"])
        )

    def _assemble(self, rng, life, pings, baskets, destination, house) -> pl.DataFrame:
        n = life.created.size
        orders = np.arange(n)
        routes = self.routes
        dq = self.config.dq
        fields = EVENT_BODY_FIELDS

        def masks(event_type: str, size: int) -> dict[str, np.ndarray]:
            return ev.dq_masks(rng, dq.get(event_type), fields[event_type], size)

        last = routes.route_offsets[destination + 1] - 1
        customer_lat, customer_lon = routes.route_lat[last], routes.route_lon[last]
        street = routes.street[destination]
        address = (
            house.astype(str).astype(object)
            + " "
            + street.astype(object)
            + f", {self.config.city}, {self.config.region}"
        )
        items = (
            pl.DataFrame(
                {
                    "order_index": baskets.order_index,
                    "line": self.menu.item_json_prefix[baskets.item_row]
                    + baskets.qty.astype(str).astype(object)
                    + "}",
                }
            )
            .group_by("order_index", maintain_order=True)
            .agg(pl.col("line").str.join(", "))
        )
        item_json = np.full(n, "[]", dtype=object)
        item_json[items["order_index"].to_numpy()] = (
            "[" + items["line"].to_numpy().astype(object) + "]"
        )

        created_body = ev.json_object(
            {
                "customer_lat": ev.number(customer_lat, COORD_DECIMALS),
                "customer_lon": ev.number(customer_lon, COORD_DECIMALS),
                "customer_addr": ev.json_string(address),
                "items": pl.lit(pl.Series(item_json, dtype=pl.String)),
            },
            masks("order_created", n),
        )
        picked_body = ev.json_object(
            {
                "route_points": pl.lit(pl.Series(self.route_json[destination], dtype=pl.String)),
                "eta_mins": ev.number(life.drive_minutes, 1),
            },
            masks("driver_picked_up", n),
        )
        at = routes.route_offsets[destination[pings.order_index]]
        span = np.diff(routes.route_offsets)[destination[pings.order_index]]
        point = at + np.floor(pings.progress * (span - 1)).astype(np.int64)
        ping_body = ev.json_object(
            {
                "progress_pct": ev.number(pings.progress * 100.0, 1),
                "loc_lat": ev.number(routes.route_lat[point], COORD_DECIMALS),
                "loc_lon": ev.number(routes.route_lon[point], COORD_DECIMALS),
            },
            masks("driver_ping", pings.ts.size),
        )
        delivered_body = ev.json_object(
            {
                "delivered_lat": ev.number(customer_lat, COORD_DECIMALS),
                "delivered_lon": ev.number(customer_lon, COORD_DECIMALS),
            },
            masks("delivered", n),
        )
        hops = np.bincount(pings.order_index, minlength=n) + 1
        empty = pl.lit("{}")
        blocks = [
            ev.block(
                event_type="order_created",
                order_index=orders,
                sequence=np.zeros(n),
                ts_us=life.created,
                body=created_body,
            ),
            ev.block(
                event_type="gk_started",
                order_index=orders,
                sequence=np.full(n, 1),
                ts_us=life.started,
                body=empty,
            ),
            ev.block(
                event_type="gk_finished",
                order_index=orders,
                sequence=np.full(n, 2),
                ts_us=life.finished,
                body=empty,
            ),
            ev.block(
                event_type="gk_ready",
                order_index=orders,
                sequence=np.full(n, 3),
                ts_us=life.ready,
                body=empty,
            ),
            ev.block(
                event_type="driver_arrived",
                order_index=orders,
                sequence=np.full(n, 4),
                ts_us=life.driver_arrived,
                body=empty,
            ),
            ev.block(
                event_type="driver_picked_up",
                order_index=orders,
                sequence=np.full(n, 5),
                ts_us=life.picked_up,
                body=picked_body,
            ),
            ev.block(
                event_type="driver_ping",
                order_index=pings.order_index,
                sequence=5 + pings.hop,
                ts_us=pings.ts,
                body=ping_body,
            ),
            ev.block(
                event_type="delivered",
                order_index=orders,
                sequence=5 + hops,
                ts_us=life.delivered,
                body=delivered_body,
            ),
        ]
        return pl.concat(blocks)
