"""Data and servers for the app store and review app tests.

`realistic_frames()` is a handful of orders as the scorer would hand them to the sync (fixed timestamps,
so screens render the same every run), including corrupt suggestions. `synthetic_frames(n)` is many
plain rows for paging and timing. `store` is a fixture parametrised over both backends; the PostgreSQL
one uses `CASPER_TEST_PG_DSN` if set, else starts a throwaway server with initdb/pg_ctl on a free
loopback port, and skips only when no PostgreSQL binaries exist at all.
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import polars as pl
import psycopg
import pytest
from psycopg import sql

from casper.appstore import AppStore, open_store, sync_frames
from casper.appstore.backends import PostgresBackend, SqliteBackend
from casper.home import CasperHome

SCORED_AT = datetime(2026, 11, 26, 12, 0, 0)
MODEL_VERSION = "refund-model/3"


class SteppingClock:
    """A clock for decided_ts and synced_ts that moves one second per reading: deterministic."""

    def __init__(self, start: datetime = datetime(2026, 11, 26, 13, 0, 0)) -> None:
        self.now = start

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


def agent_response(refund_class: str, refund_usd: float, reason: str) -> str:
    return json.dumps({"refund_usd": refund_usd, "refund_class": refund_class, "reason": reason})


@dataclass(frozen=True)
class Order:
    order_id: str
    location: str
    location_title: str
    minutes_ago: int  # scored this long before SCORED_AT
    delivery_minutes: float
    percentiles: tuple[float, float, float]  # the location's P50, P75, P99
    items: tuple[tuple[str, str, float, int], ...]  # name, brand, price, qty
    response: str

    @property
    def total(self) -> float:
        return round(sum(price * qty for _, _, price, qty in self.items), 2)


SF = ("sanfrancisco", "San Francisco")
CHI = ("chicago", "Chicago")
SF_PERCENTILES = (33.0, 41.0, 63.5)
CHI_PERCENTILES = (30.5, 38.0, 58.0)

ORDERS = (
    Order(
        "a41f0c9e2b7d5a13",
        *SF,
        2,
        52.3,
        SF_PERCENTILES,
        (
            ("Classic Smash Burger", "Bun Voyage", 11.50, 2),
            ("Shoestring Fries", "Bun Voyage", 4.25, 1),
        ),
        agent_response("partial", 8.50, "Delivered in 52.3 minutes, 11.3 past the P75 of 41.0."),
    ),
    Order(
        "7be3d2209f4c8e61",
        *CHI,
        5,
        71.0,
        CHI_PERCENTILES,
        (("Tonkotsu Ramen", "Slurp Theory", 15.25, 1), ("Pork Gyoza", "Slurp Theory", 6.75, 2)),
        agent_response("full", 28.75, "Delivered in 71.0 minutes, beyond the P99 of 58.0."),
    ),
    Order(
        "0c92e7f1a8b34d55",
        *SF,
        9,
        28.4,
        SF_PERCENTILES,
        (("Margherita", "Crust Fund", 13.00, 1),),
        agent_response("none", 0.0, "Delivered in 28.4 minutes, within the P75 of 41.0."),
    ),
    Order(
        "e5d1b8c3f0a27964",
        *CHI,
        14,
        44.9,
        CHI_PERCENTILES,
        (("Al Pastor Taco", "Taco Tectonics", 3.75, 4), ("Horchata", "Taco Tectonics", 3.50, 1)),
        agent_response("partial", 4.60, "Delivered in 44.9 minutes, 6.9 past the P75 of 38.0."),
    ),
    Order(
        "3f6a9d0e1c5b7284",
        *SF,
        21,
        47.0,
        SF_PERCENTILES,
        (("Butter Chicken", "Curry Courier", 16.50, 1),),
        '{"refund_usd": 5.0, "refund_class": "partial", "reason": "Late by',
    ),
    Order(
        "9a0b7c6d5e4f3a21",
        *CHI,
        30,
        40.2,
        CHI_PERCENTILES,
        (("Pad See Ew", "Bangkok Bounce", 14.25, 1),),
        agent_response("maybe", 3.00, "Possibly late."),
    ),
    Order(
        "58c4e2a0b9d1f736",
        *SF,
        42,
        49.5,
        SF_PERCENTILES,
        (("Spicy Tuna Roll", "Roll Call Sushi", 9.75, 2),),
        agent_response("partial", -5.00, "Delivered in 49.5 minutes, 8.5 past the P75."),
    ),
    Order(
        "d2e8f4a6c0b19375",
        *CHI,
        55,
        61.0,
        CHI_PERCENTILES,
        (("Falafel Bowl", "Olive Orbit", 12.00, 1),),
        agent_response("full", 95.00, "Delivered in 61.0 minutes, beyond the P99 of 58.0."),
    ),
)
# Indexes into ORDERS by what a test needs of them.
PARTIAL, FULL, NONE, SECOND_PARTIAL, NOT_JSON, UNKNOWN_CLASS, NEGATIVE, ABOVE_TOTAL = range(8)

KITCHENS = {"sanfrancisco": (37.79166, -122.39379), "chicago": (41.88063, -87.63618)}


def _route(order_index: int, location: str) -> list[list[float]]:
    """A staircase of blocks from the kitchen, as a road route looks."""
    lat, lon = KITCHENS[location]
    points = [[lat, lon]]
    for step in range(1, 7 + order_index % 3):
        lat += 0.0021 if step % 2 else 0.0
        lon += 0.0 if step % 2 else 0.0034 * (1 if order_index % 2 else -1)
        points.append([round(lat, 6), round(lon, 6)])
    return points


def _timeline(created: datetime, delivery_minutes: float) -> list[dict]:
    offsets = (
        ("order_created", 0.0),
        ("gk_started", 2.1),
        ("gk_finished", 12.4),
        ("gk_ready", 14.0),
        ("driver_arrived", 13.2),
        ("driver_picked_up", 19.8),
        ("driver_ping", 25.0),
        ("delivered", delivery_minutes),
    )
    return [
        {"sequence": sequence, "event_type": event_type, "ts": str(created + timedelta(minutes=at))}
        for sequence, (event_type, at) in enumerate(offsets)
    ]


def realistic_frames(
    orders: tuple[Order, ...] = ORDERS, *, model_version: str = MODEL_VERSION
) -> tuple[pl.DataFrame, pl.DataFrame]:
    recommendations, context = [], []
    for index, order in enumerate(orders):
        scored = SCORED_AT - timedelta(minutes=order.minutes_ago)
        created = scored - timedelta(minutes=order.delivery_minutes + 1)
        recommendations.append(
            {
                "order_id": order.order_id,
                "ts": scored,
                "agent_response": order.response,
                "model_version": model_version,
                "location": order.location,
                "order_ts": created,
            }
        )
        p50, p75, p99 = order.percentiles
        context.append(
            {
                "order_id": order.order_id,
                "location": order.location,
                "location_title": order.location_title,
                "order_total": order.total,
                "delivery_minutes": order.delivery_minutes,
                "p50": p50,
                "p75": p75,
                "p99": p99,
                "created_ts": created,
                "events": json.dumps(_timeline(created, order.delivery_minutes)),
                "items": json.dumps(
                    [
                        {"name": name, "brand": brand, "price": price, "qty": qty}
                        for name, brand, price, qty in order.items
                    ]
                ),
                "route": json.dumps(_route(index, order.location)),
            }
        )
    return pl.DataFrame(recommendations), pl.DataFrame(context)


def synthetic_frames(
    count: int, *, newest: datetime = SCORED_AT - timedelta(days=1), prefix: str = "s"
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """`count` orders scored 30 s apart, newest first, cycling through classes and locations;
    every tenth suggestion is corrupt."""
    classes = ("none", "none", "none", "none", "none", "partial", "partial", "full", "partial")
    locations = ("sanfrancisco", "chicago", "bellevue", "siliconvalley")
    order_ids, scored, responses, where = [], [], [], []
    for i in range(count):
        order_ids.append(f"{prefix}{i:015x}")
        scored.append(newest - timedelta(seconds=30 * i))
        where.append(locations[i % len(locations)])
        if i % 10 == 9:
            responses.append("not json {")
        else:
            refund_class = classes[i % len(classes)]
            amount = {"none": 0.0, "partial": 3.25 + i % 7, "full": 24.0}[refund_class]
            responses.append(agent_response(refund_class, amount, f"Synthetic order {i}."))
    recommendations = pl.DataFrame(
        {
            "order_id": order_ids,
            "ts": scored,
            "agent_response": responses,
            "model_version": [MODEL_VERSION] * count,
            "location": where,
            "order_ts": [ts - timedelta(minutes=46) for ts in scored],
        }
    )
    context = pl.DataFrame(
        {
            "order_id": order_ids,
            "location": where,
            "location_title": [name.title() for name in where],
            "order_total": [24.0] * count,
            "delivery_minutes": [45.0] * count,
            "p50": [33.0] * count,
            "p75": [41.0] * count,
            "p99": [63.5] * count,
            "created_ts": [ts - timedelta(minutes=46) for ts in scored],
            "events": ["[]"] * count,
            "items": ['[{"name": "Margherita", "brand": "Crust Fund", "price": 24.0, "qty": 1}]']
            * count,
            "route": ["[]"] * count,
        }
    )
    return recommendations, context


# --- PostgreSQL -------------------------------------------------------------------------------


def _postgres_bin_dir() -> Path | None:
    """Where initdb, pg_ctl and postgres are: on PATH, or Debian's versioned directories."""
    candidates = [
        shutil.which("pg_ctl"),
        *sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))[::-1],
    ]
    for candidate in candidates:
        if candidate:
            # Debian can put a wrapper script on PATH; the real binaries sit together.
            directory = Path(candidate).resolve().parent
            if all((directory / program).exists() for program in ("initdb", "pg_ctl", "postgres")):
                return directory
    return None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _server_os_user() -> pwd.struct_passwd | None:
    """initdb refuses to run as root: as root, run the server as `postgres` (created by the Debian
    package) or, failing that, a system user made for the purpose."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "casper-pg"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    subprocess.run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "casper-pg"],
        check=True,
    )
    return pwd.getpwnam("casper-pg")


class ThrowawayPostgres:
    """A PostgreSQL server in a temp dir, listening on loopback only, trusting local connections."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.root = Path(tempfile.mkdtemp(prefix="casper-pg-"))
        self.port = _free_port()
        self.user = _server_os_user()
        if self.user is not None:
            os.chown(self.root, self.user.pw_uid, self.user.pw_gid)
        data = self.root / "data"
        self._run(
            "initdb", "-D", str(data), "-U", "casper", "--auth=trust", "-E", "UTF8", "--no-sync"
        )
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        self._run(
            "pg_ctl",
            "-D",
            str(data),
            "-l",
            str(self.root / "server.log"),
            "-o",
            options,
            "-w",
            "start",
        )
        self.dsn = f"postgresql://casper@127.0.0.1:{self.port}/postgres"

    def _run(self, program: str, *args: str) -> None:
        user = self.user
        subprocess.run(
            [str(self.bin_dir / program), *args],
            check=True,
            capture_output=True,
            cwd=self.root,
            user=user.pw_uid if user else None,
            group=user.pw_gid if user else None,
            extra_groups=[] if user else None,
        )

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.root / "data"), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)


def _with_dbname(dsn: str, dbname: str) -> str:
    return psycopg.conninfo.make_conninfo(dsn, dbname=dbname)


class _TestDatabase:
    """One database per test session on the chosen server, dropped at exit."""

    def __init__(self) -> None:
        self.server: ThrowawayPostgres | None = None
        admin_dsn = os.environ.get("CASPER_TEST_PG_DSN")
        if not admin_dsn:
            bin_dir = _postgres_bin_dir()
            if bin_dir is None:
                pytest.skip("no PostgreSQL binaries (initdb, pg_ctl) on this machine")
            self.server = ThrowawayPostgres(bin_dir)
            admin_dsn = self.server.dsn
        self.admin_dsn = admin_dsn
        self.name = f"casper_test_{os.getpid()}"
        with psycopg.connect(admin_dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(self.name)))
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.name)))
        self.dsn = _with_dbname(admin_dsn, self.name)
        atexit.register(self.close)

    def reset(self) -> str:
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute("DROP SCHEMA IF EXISTS recommender, refunds CASCADE")
        return self.dsn

    def close(self) -> None:
        if self.server is not None:
            self.server.stop()
            return
        with psycopg.connect(self.admin_dsn, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(self.name))
            )


_database: _TestDatabase | None = None


def postgres_dsn() -> str:
    """A DSN to an empty database; the server starts on first use and lives for the session."""
    global _database
    if _database is None:
        _database = _TestDatabase()
    return _database.reset()


@dataclass(frozen=True)
class LakebaseStandIn:
    """The tests' PostgreSQL server playing a Lakebase instance's database."""

    host: str
    #: libpq variables that point a Lakebase DSN (engines/databricks/lakebase.py) at the server
    env: dict[str, str]
    #: a DSN to read the database with (the server's admin role)
    dsn: str


@contextlib.contextmanager
def postgres_playing_lakebase(
    database: str, user: str, others: tuple[str, ...] = ()
) -> Iterator[LakebaseStandIn]:
    """The database `database` owned by the role `user`, as a Lakebase instance has one for the
    workspace identity that made it (its OAuth tokens as passwords: the throwaway server trusts
    local connections, so any password does), and roles `others` (identities Databricks gives a
    role, such as an app's service principal); dropped at exit."""
    postgres_dsn()  # the server, started on first use
    assert _database is not None
    admin = psycopg.conninfo.conninfo_to_dict(_database.admin_dsn)
    roles = [sql.Identifier(r) for r in (user, *others)]
    name = sql.Identifier(database)

    def drop(conn: psycopg.Connection) -> None:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
        for role in roles:
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(role))

    with psycopg.connect(_database.admin_dsn, autocommit=True) as conn:
        drop(conn)
        for role in roles:
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(role))
        conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(name, roles[0]))
    try:
        yield LakebaseStandIn(
            host=str(admin.get("host") or "127.0.0.1"),
            env={"PGPORT": str(admin.get("port") or 5432), "PGSSLMODE": "disable"},
            dsn=_with_dbname(_database.admin_dsn, database),
        )
    finally:
        with psycopg.connect(_database.admin_dsn, autocommit=True) as conn:
            drop(conn)


BACKENDS = ("sqlite", pytest.param("postgresql", marks=pytest.mark.postgres))


def open_test_store(kind: str, root: Path) -> AppStore:
    dsn = postgres_dsn() if kind == "postgresql" else None
    return open_store(CasperHome(root), dsn, clock=SteppingClock())


@pytest.fixture(params=BACKENDS, name="store")
def store_on_each_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[AppStore]:
    """An empty app store, once on SQLite and once on PostgreSQL; import it to use `store`."""
    with open_test_store(request.param, tmp_path / "home") as opened:
        yield opened


def second_handle(store: AppStore) -> AppStore:
    """Another connection to the same store, as another process would have."""
    return AppStore(store.backend, clock=SteppingClock(datetime(2026, 11, 27)))


def sync_in_subprocess(store: AppStore, batches: int, batch_size: int) -> subprocess.Popen:
    """Sync `batches` fresh batches of synthetic orders from another process, as
    `casper pipeline --watch` does while the review app is open."""
    location = getattr(store.backend, "dsn", None) or str(store.backend.directory)
    code = (
        "import sys; from tests.appstore_fixtures import run_sync_batches; "
        "run_sync_batches(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))"
    )
    return subprocess.Popen(
        [sys.executable, "-c", code, store.backend.name, location, str(batches), str(batch_size)],
        cwd=Path(__file__).parent.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def run_sync_batches(backend: str, location: str, batches: int, batch_size: int) -> None:
    chosen = PostgresBackend(location) if backend == "postgresql" else SqliteBackend(Path(location))
    with AppStore(chosen) as store:
        for batch in range(batches):
            recommendations, context = synthetic_frames(
                batch_size, newest=SCORED_AT + timedelta(hours=batch + 1), prefix=f"b{batch}-"
            )
            report = sync_frames(store, recommendations, context)
            print(f"batch {batch}: {report.upserted} upserted", flush=True)


_large_homes: dict[int, Path] = {}


def synthetic_sqlite_home(count: int) -> Path:
    """A home whose embedded store holds `count` synthetic recommendations, built once per session
    and copied per test, so large-data tests do not each pay for the sync."""
    if count not in _large_homes:
        root = Path(tempfile.mkdtemp(prefix="casper-large-"))
        atexit.register(shutil.rmtree, root, True)
        with open_store(CasperHome(root), None, clock=SteppingClock()) as built:
            sync_frames(built, *synthetic_frames(count))
        _large_homes[count] = root
    return _large_homes[count]


def copy_home(source: Path, destination: Path) -> CasperHome:
    shutil.copytree(source, destination)
    return CasperHome(destination)
