"""The app store on both backends: the same tests against embedded SQLite and a real PostgreSQL."""

from __future__ import annotations

import contextlib
import csv
import itertools
import json
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import TypeVar

import polars as pl
import pytest

from casper.appstore import (
    AppStore,
    DecisionDraft,
    InvalidDecision,
    InvalidFilter,
    ListFilters,
    StaleSuggestion,
    StoreError,
    SyncInputError,
    accept_draft,
    deny_draft,
    export_decisions_csv,
    open_store,
    store_counts,
    sync_frames,
)
from casper.appstore.backends import PostgresBackend, SqliteBackend
from casper.appstore.records import STATUSES
from casper.appstore.schema import (
    DECISION_COUNTS,
    DECISIONS,
    RECOMMENDATION_COUNTS,
    RECOMMENDATIONS,
    split_name,
)
from casper.appstore.suggestion import SUGGESTION_CLASSES
from casper.home import CasperHome
from tests.appstore_fixtures import (
    ABOVE_TOTAL,
    FULL,
    NEGATIVE,
    NONE,
    NOT_JSON,
    ORDERS,
    PARTIAL,
    SCORED_AT,
    SECOND_PARTIAL,
    UNKNOWN_CLASS,
    agent_response,
    open_test_store,
    realistic_frames,
    second_handle,
    store_on_each_backend,  # noqa: F401  (provides the `store` fixture)
    sync_in_subprocess,
    synthetic_frames,
)

T = TypeVar("T")


def order_id(index: int) -> str:
    return ORDERS[index].order_id


def synced(store: AppStore) -> AppStore:
    sync_frames(store, *realistic_frames())
    return store


def all_rows(store: AppStore, filters: ListFilters = ListFilters()) -> list[str]:
    return [row.order_id for row in store.page(filters, limit=1000).rows]


def test_schema_enforces_the_reference_constraints(store: AppStore) -> None:
    backend = store.backend
    connection = backend.connect()
    insert = backend.sql(
        "INSERT INTO refunds.refund_decisions (order_id, decided_ts, amount_usd, refund_class, reason) "
        "VALUES (?, ?, ?, ?, ?)"
    )
    moment = backend.param(SCORED_AT)
    for bad in (
        ("o1", moment, backend.param(Decimal("-1.00")), "partial", "r"),
        ("o1", moment, backend.param(Decimal("1.00")), "maybe", "r"),
        ("o1", moment, backend.param(Decimal("1.00")), "partial", None),
        (None, moment, backend.param(Decimal("1.00")), "partial", "r"),
    ):
        with pytest.raises(backend.driver_errors):
            connection.execute(insert, bad)
        if backend.name == "postgresql":
            connection.rollback()
    # SQLite's CHECK refuses a third decimal; PostgreSQL's numeric(10,2) rounds it away.
    with contextlib.suppress(backend.driver_errors):
        connection.execute(insert, ("o1", moment, backend.param(Decimal("1.234")), "full", "r"))
    stored = connection.execute("SELECT amount_usd FROM refunds.refund_decisions").fetchall()
    assert all(
        Decimal(str(amount)) == Decimal(str(amount)).quantize(Decimal("0.01"))
        for (amount,) in stored
    )
    connection.close()


def test_ensure_schema_is_idempotent(store: AppStore) -> None:
    synced(store)
    store.ensure_schema()
    assert len(all_rows(store)) == len(ORDERS)


def _fetch(store: AppStore, sql: str) -> list[tuple]:
    connection = store.backend.connect()
    try:
        return [tuple(row) for row in connection.execute(sql).fetchall()]
    finally:
        connection.close()


def test_the_reference_name_reads_what_was_synced(store: AppStore) -> None:
    """recommender.pg_recommendations, the reference's synced table, is a view over ours."""
    synced(store)
    ours = _fetch(store, "SELECT order_id, ts, agent_response FROM recommender.app_recommendations")
    reference = _fetch(
        store,
        "SELECT order_id, ts, agent_response, model_version, location "
        "FROM recommender.pg_recommendations",
    )
    assert ours and sorted(r[:3] for r in reference) == sorted(ours)
    assert {r[0] for r in reference} == set(all_rows(store))


def test_a_store_from_before_the_split_keeps_its_rows_and_decisions(
    store: AppStore, tmp_path: Path
) -> None:
    """A store whose pg_recommendations was our own table opens with those rows as
    app_recommendations, and the reference's view over them."""
    synced(store)
    row = store.page().rows[0]
    store.apply_decision(accept_draft(row.order_id, row.suggestion, "ann", row.order_total))
    before = all_rows(store)
    connection = store.backend.connect()
    sql = store.backend.sql
    try:
        # back to the old layout: our table under the reference's name, its index named after
        # it, no view
        connection.execute("DROP VIEW recommender.pg_recommendations")
        connection.execute("DROP INDEX recommender.app_recommendations_ts")
        connection.execute(
            sql("ALTER TABLE recommender.app_recommendations RENAME TO pg_recommendations")
        )
        connection.execute(
            store.backend.index_ddl(
                "recommender", "pg_recommendations", "pg_recommendations_ts", "ts, order_id"
            )
        )
        if store.backend.name == "postgresql":
            connection.commit()
    finally:
        connection.close()
    again = AppStore(store.backend)
    try:
        again.ensure_schema()
        assert all_rows(again) == before
        assert again.page().rows[0].latest_decision is not None
        assert again.counts() == {"decisions": 1, "pending": len(before) - 1}
        assert _fetch(again, "SELECT count(*) FROM recommender.pg_recommendations") == [
            (len(before),)
        ]
        catalog = again.backend.connect()
        objects = again.backend.schema_objects(catalog)
        catalog.close()
        assert "recommender.app_recommendations_ts" in objects  # made again under the new name
        assert "recommender.pg_recommendations_ts" not in objects
    finally:
        again.close()


def _as_before_order_ts(store: AppStore) -> None:
    """Back to a store made before order_ts: no such column, the view without it."""
    connection = store.backend.connect()
    try:
        connection.execute("DROP VIEW recommender.pg_recommendations")
        connection.execute("ALTER TABLE recommender.app_recommendations DROP COLUMN order_ts")
        connection.execute(
            store.backend.view_ddl(
                "recommender",
                "pg_recommendations",
                "app_recommendations",
                ("order_id", "ts", "agent_response", "model_version", "location"),
            )
        )
        if store.backend.name == "postgresql":
            connection.commit()
    finally:
        connection.close()


def test_the_reference_view_has_the_reference_columns(store: AppStore) -> None:
    """order_id, ts, order_ts (when the order was created) and agent_response, as the reference's
    synced table has them."""
    recommendations, _ = realistic_frames()
    synced(store)
    rows = _fetch(
        store, "SELECT order_id, ts, order_ts, agent_response FROM recommender.pg_recommendations"
    )
    as_time = store.backend.timestamp
    assert sorted((r[0], as_time(r[1]), as_time(r[2]), r[3]) for r in rows) == sorted(
        recommendations.select("order_id", "ts", "order_ts", "agent_response").iter_rows()
    )


def test_a_store_from_before_order_ts_gets_it_from_each_orders_context(store: AppStore) -> None:
    recommendations, context = realistic_frames()
    synced(store)
    _as_before_order_ts(store)
    again = AppStore(store.backend)
    try:
        again.ensure_schema()
        rows = _fetch(again, "SELECT order_id, order_ts FROM recommender.pg_recommendations")
        created = dict(context.select("order_id", "created_ts").iter_rows())
        assert {r[0]: again.backend.timestamp(r[1]) for r in rows} == created
        assert again.backend.relation(again._conn, "recommender", "pg_recommendations").columns == (
            "order_id",
            "ts",
            "agent_response",
            "model_version",
            "location",
            "order_ts",
        )
        # the next sync carries order_ts, and finds nothing else changed
        assert sync_frames(again, recommendations, context).upserted == 0
    finally:
        again.close()


@pytest.mark.postgres
def test_a_reader_opens_a_store_from_before_order_ts_that_its_owner_then_updates(
    tmp_path: Path,
) -> None:
    """The review app's role may not alter the sync's tables: it opens the old store as it is (it
    reads neither order_ts nor the view); the owner's next open adds the column, and the reader
    keeps what was granted on the view."""
    import os

    import psycopg
    from psycopg import sql

    from tests.appstore_fixtures import postgres_dsn

    dsn = postgres_dsn()
    reader = f"casper_old_reader_{os.getpid()}"
    role = sql.Identifier(reader)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(role))
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(role))
    as_reader = psycopg.conninfo.make_conninfo(dsn, user=reader)
    try:
        with open_store(CasperHome(tmp_path), dsn) as owner:
            synced(owner)
            _as_before_order_ts(owner)
            owner.grant_reviewer(reader)
        with open_store(CasperHome(tmp_path), as_reader) as app:
            assert len(app.page().rows) == len(ORDERS)
            assert (
                "order_ts"
                not in app.backend.relation(app._conn, "recommender", "app_recommendations").columns
            )
        with open_store(CasperHome(tmp_path), dsn) as owner:
            assert (
                "order_ts"
                in owner.backend.relation(owner._conn, "recommender", "app_recommendations").columns
            )
        with psycopg.connect(as_reader) as conn:
            (count,) = conn.execute(
                "SELECT count(order_ts) FROM recommender.pg_recommendations"
            ).fetchone()
        assert count == len(ORDERS)
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("DROP SCHEMA IF EXISTS recommender, refunds CASCADE")
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(role))


def test_a_synced_table_under_the_reference_name_is_left_as_it_is(store: AppStore) -> None:
    """On Lakebase, pg_recommendations is the table Databricks syncs: the store works beside it."""
    connection = store.backend.connect()
    try:
        connection.execute("DROP VIEW recommender.pg_recommendations")
        connection.execute(
            "CREATE TABLE recommender.pg_recommendations "
            "(order_id TEXT PRIMARY KEY, ts TIMESTAMP, agent_response TEXT)"
        )
        connection.execute(
            "INSERT INTO recommender.pg_recommendations VALUES ('o-synced', NULL, '{}')"
        )
        if store.backend.name == "postgresql":
            connection.commit()
    finally:
        connection.close()
    store.ensure_schema()
    synced(store)
    assert _fetch(store, "SELECT order_id FROM recommender.pg_recommendations") == [("o-synced",)]
    assert "o-synced" not in all_rows(store) and all_rows(store)


@pytest.mark.postgres
def test_a_role_that_may_only_read_and_decide_opens_the_store(tmp_path: Path) -> None:
    """The Databricks App's identity uses tables the sync job's identity made: opening the store
    must not try to create (or index) what is already there."""
    import os

    import psycopg
    from psycopg import sql

    from tests.appstore_fixtures import postgres_dsn

    dsn = postgres_dsn()
    reader = f"casper_reader_{os.getpid()}"
    role = sql.Identifier(reader)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(role))
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(role))
    with open_store(CasperHome(tmp_path), dsn) as owner:
        synced(owner)
        owner.grant_reviewer(reader)
    try:
        with open_store(
            CasperHome(tmp_path), psycopg.conninfo.make_conninfo(dsn, user=reader)
        ) as app:
            row = app.page().rows[0]
            app.apply_decision(accept_draft(row.order_id, row.suggestion, "ann", row.order_total))
            assert app.counts()["decisions"] == 1
            with pytest.raises(StoreError, match="permission denied"):
                sync_frames(app, *synthetic_frames(3))  # syncing stays the owner's
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("DROP SCHEMA IF EXISTS recommender, refunds CASCADE")
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(role))


@pytest.mark.postgres
def test_a_password_provider_is_asked_on_every_connection(tmp_path: Path) -> None:
    """Lakebase's passwords are OAuth tokens that last an hour: a reconnect needs a fresh one."""
    from tests.appstore_fixtures import postgres_dsn

    asked: list[int] = []

    def password() -> str:
        asked.append(1)
        return f"token-{len(asked)}"

    with open_store(CasperHome(tmp_path), postgres_dsn(), password=password) as store:
        synced(store)
        first = len(asked)
        assert first >= 1
        store.backend.connect().close()  # a reconnect, as after a server restart
        assert len(asked) == first + 1
        assert all_rows(store)


def test_opening_a_store_does_not_wait_for_a_sync_writing(store: AppStore) -> None:
    """The review app starts while the pipeline's sync holds its write lock: with the schema in
    place, opening the store takes no lock and the first page reads what was committed."""
    synced(store)
    syncing = store.backend.connect()
    totals: list[int] = []

    def start_the_app() -> None:
        with second_handle(store) as reviewer:  # another process's connection
            reviewer.ensure_schema()  # what open_store does
            totals.append(reviewer.page().total)

    with store.backend.write_transaction(syncing, RECOMMENDATIONS):
        starting = threading.Thread(target=start_the_app)
        starting.start()
        starting.join(timeout=10)
        waited_for_the_sync = starting.is_alive()
    starting.join()
    syncing.close()
    assert not waited_for_the_sync and totals == [len(ORDERS)]


def test_sync_is_idempotent_and_replaces_changed_recommendations(store: AppStore) -> None:
    recommendations, context = realistic_frames()
    first = sync_frames(store, recommendations, context)
    revision = store.revision()
    again = sync_frames(store, recommendations, context)
    assert (first.upserted, first.unchanged) == (len(ORDERS), 0)
    assert store.newest_scored_ts() == recommendations["ts"].max()  # the watermark to read after
    assert (again.upserted, again.unchanged) == (0, len(ORDERS))
    assert store.revision() == revision  # nothing changed, nothing for the app to reload

    rescored = recommendations.with_columns(
        pl.when(pl.col("order_id") == order_id(PARTIAL))
        .then(pl.lit(agent_response("full", 27.25, "Re-scored: beyond P99.")))
        .otherwise(pl.col("agent_response"))
        .alias("agent_response"),
        pl.when(pl.col("order_id") == order_id(NONE))
        .then(pl.lit("refund-model/4"))
        .otherwise(pl.col("model_version"))
        .alias("model_version"),
    )
    changed = sync_frames(store, rescored, context)
    assert (changed.upserted, changed.unchanged) == (2, len(ORDERS) - 2)
    assert store.revision() != revision
    rows = {row.order_id: row for row in store.page(limit=100).rows}
    assert rows[order_id(PARTIAL)].suggestion.refund_class == "full"
    assert rows[order_id(PARTIAL)].suggestion.refund_usd == Decimal("27.25")
    assert rows[order_id(NONE)].model_version == "refund-model/4"
    assert len(rows) == len(ORDERS)


def test_sync_keeps_the_newest_row_of_an_order_and_updates_context(store: AppStore) -> None:
    recommendations, context = realistic_frames()
    older = recommendations.head(1).with_columns(
        pl.col("ts") - timedelta(hours=1),
        pl.lit(agent_response("none", 0.0, "An older scoring.")).alias("agent_response"),
    )
    report = sync_frames(store, pl.concat([recommendations, older]), context)
    assert report.upserted == len(ORDERS)
    assert store.order_detail(order_id(PARTIAL)).recommendation.suggestion.refund_class == "partial"

    slower = context.with_columns(pl.col("delivery_minutes") + 10)
    assert sync_frames(store, recommendations, slower).upserted == 0
    assert store.order_detail(order_id(PARTIAL)).delivery_minutes == pytest.approx(62.3)


def test_sync_names_missing_columns(store: AppStore) -> None:
    recommendations, context = realistic_frames()
    with pytest.raises(SyncInputError, match="agent_response"):
        sync_frames(store, recommendations.drop("agent_response"), context)
    with pytest.raises(SyncInputError, match="route"):
        sync_frames(store, recommendations, context.drop("route"))


def test_corrupt_suggestions_are_error_rows(store: AppStore) -> None:
    synced(store)
    errors = store.page(ListFilters(refund_class="error")).rows
    assert {row.order_id for row in errors} == {
        order_id(NOT_JSON),
        order_id(UNKNOWN_CLASS),
        order_id(NEGATIVE),
    }
    assert all(row.suggestion.refund_usd is None and row.suggestion.error for row in errors)
    detail = store.order_detail(order_id(NOT_JSON))
    assert detail.agent_response == ORDERS[NOT_JSON].response
    assert store.summary().suggested_by_class == {"none": 1, "partial": 2, "full": 2, "error": 3}


def with_values(frame: pl.DataFrame, column: str, values: dict[str, str]) -> pl.DataFrame:
    """`frame` with `column` set to `values[order_id]` on the orders named there."""
    expression = pl.col(column)
    for order, value in values.items():
        expression = pl.when(pl.col("order_id") == order).then(pl.lit(value)).otherwise(expression)
    return frame.with_columns(expression.alias(column))


def test_text_either_backend_cannot_store_syncs_as_error_suggestions(store: AppStore) -> None:
    recommendations, context = realistic_frames()
    # a NUL SQLite would keep and PostgreSQL refuses; a surrogate (from a JSON escape) neither takes
    recommendations = with_values(
        recommendations,
        "agent_response",
        {
            order_id(PARTIAL): agent_response("partial", 8.5, "Late\x00"),  # escaped: \u0000
            order_id(FULL): agent_response("full", 28.75, "Late \ud800"),  # escaped: \ud800
            order_id(NEGATIVE): ORDERS[NEGATIVE].response + "\x00",
        },
    )
    recommendations = with_values(recommendations, "model_version", {order_id(NONE): "m/3\x00"})
    recommendations = with_values(recommendations, "location", {order_id(ABOVE_TOTAL): "chi\x00"})
    context = with_values(context, "location_title", {order_id(PARTIAL): "San Francisco\x00"})
    pad_thai = '[{"name": "Pad\x00Thai", "brand": "Wok", "price": 28.75, "qty": 1}]'
    context = with_values(context, "items", {order_id(FULL): pad_thai})
    odd_id = order_id(UNKNOWN_CLASS)
    recommendations, context = (
        frame.with_columns(pl.col("order_id").replace(odd_id, f"{odd_id}\x00"))
        for frame in (recommendations, context)
    )

    report = sync_frames(store, recommendations, context)
    assert (report.upserted, report.unchanged) == (len(ORDERS), 0)
    kept_id = f"{odd_id}\ufffd"  # the row is kept, U+FFFD where the NUL was
    rows = {row.order_id: row for row in store.page().rows}
    assert {order: row.suggestion.error for order, row in rows.items()} == {
        order_id(PARTIAL): "reason cannot contain a NUL character",
        order_id(FULL): "reason holds U+D800, a lone surrogate, which is not text",
        order_id(NONE): "model_version cannot contain a NUL character",
        order_id(SECOND_PARTIAL): None,  # nothing else changes
        order_id(NOT_JSON): "agent_response is not valid JSON",
        kept_id: "order_id cannot contain a NUL character",
        order_id(NEGATIVE): "agent_response cannot contain a NUL character",
        order_id(ABOVE_TOTAL): "location cannot contain a NUL character",
    }
    assert rows[order_id(SECOND_PARTIAL)].suggestion.refund_usd == Decimal("4.60")
    assert rows[order_id(NONE)].model_version == "m/3\ufffd"
    assert rows[order_id(ABOVE_TOTAL)].location == "chi\ufffd"
    assert rows[kept_id].order_total == Decimal("14.25")  # its context is joined
    partial = store.order_detail(order_id(PARTIAL))
    assert json.loads(partial.agent_response)["reason"] == "Late\x00"  # what the model said is kept
    assert partial.location_title == "San Francisco\ufffd"
    assert [item.name for item in store.order_detail(order_id(FULL)).items] == ["Pad\ufffdThai"]
    negative = store.order_detail(order_id(NEGATIVE)).agent_response
    assert negative == f"{ORDERS[NEGATIVE].response}\ufffd"

    again = sync_frames(store, recommendations, context)
    assert (again.upserted, again.unchanged) == (0, len(ORDERS))
    store.apply_decision(deny_draft(kept_id, "ann"))  # an error suggestion is still decided on
    assert [decision.order_id for decision in store.decisions()] == [kept_id]


def test_order_ids_that_meet_once_stored_sync_as_one_order(store: AppStore) -> None:
    recommendations, context = realistic_frames(ORDERS[:1])
    ids = ("o\x00", "o\ufffd")  # the first is stored as the second
    recommendations = pl.concat(
        recommendations.with_columns(pl.lit(order).alias("order_id"), pl.col("ts") + timedelta(i))
        for i, order in enumerate(ids)
    )
    context = pl.concat(context.with_columns(pl.lit(order).alias("order_id")) for order in ids)
    assert sync_frames(store, recommendations, context).upserted == 1
    (row,) = store.page().rows
    assert (row.order_id, row.suggestion.error) == ("o\ufffd", None)  # the newer scoring wins


def test_list_is_newest_first_with_filters_and_search(store: AppStore) -> None:
    synced(store)
    by_age = [order.order_id for order in sorted(ORDERS, key=lambda order: order.minutes_ago)]
    assert all_rows(store) == by_age
    assert all_rows(store, ListFilters(location="chicago")) == [
        o.order_id for o in sorted(ORDERS, key=lambda o: o.minutes_ago) if o.location == "chicago"
    ]
    assert all_rows(store, ListFilters(refund_class="none")) == [order_id(NONE)]
    assert all_rows(store, ListFilters(search=" 7BE3 ")) == [order_id(FULL)]
    assert all_rows(store, ListFilters(search="_")) == []  # LIKE wildcards are searched literally
    assert all_rows(store, ListFilters(search="%")) == []

    store.apply_decision(deny_draft(order_id(FULL), "ann"))
    assert all_rows(store, ListFilters(status="applied")) == [order_id(FULL)]
    pending = all_rows(store, ListFilters(status="pending"))
    assert order_id(FULL) not in pending and len(pending) == len(ORDERS) - 1
    page = store.page(ListFilters(status="pending", location="chicago"))
    assert page.total == 3


@pytest.mark.parametrize(("held", "one_scan"), [(4, True), (1000, True), (1000, False)])
def test_a_search_pages_alike_with_few_and_many_matches(
    store: AppStore, monkeypatch: pytest.MonkeyPatch, held: int, one_scan: bool
) -> None:
    """Where searches are read in one scan (SQLite), a search with at most SEARCH_MATCHES_HELD
    matches is paged from the ids of that scan, one with more is counted and scanned, as every
    search is elsewhere (PostgreSQL): the same totals and pages, each way on both backends."""
    monkeypatch.setattr("casper.appstore.store.SEARCH_MATCHES_HELD", held)
    monkeypatch.setattr(store.backend, "search_in_one_scan", one_scan)
    sync_frames(store, *synthetic_frames(60))
    for row in store.page(ListFilters(refund_class="partial"), limit=7).rows:
        store.apply_decision(deny_draft(row.order_id, "ann"))
    everything = store.page(limit=10_000).rows
    for search, status in itertools.product(
        ("0", "2", "S00000000000001", "3a", "zz"), (None, *STATUSES)
    ):
        expected = [
            row.order_id
            for row in everything
            if search.lower() in row.order_id and status in (None, row.status)
        ]
        filters = ListFilters(status=status, search=search)
        assert store.page(filters).total == len(expected)
        assert paged(store, filters, limit=5) == expected


def test_sqlite_searches_without_lowering_each_id_and_finds_the_same() -> None:
    """SQLite's search skips lower() on the ids it scans: its LIKE ignores ASCII case, and its
    lower() folds nothing else, so the matches are those of lower(id) LIKE, character for character."""
    ids = ["7BE3d2", "7be3D2", "ÄB12", "äb12", "İx", "ix", "a_b", "a%b", "ﬀ00", "straße"]
    searches = ["7be3", "7BE3", "ä", "Ä", "ab", "i", "x", "_", "%", "ff", "ss", "ß", "e3d"]
    as_is = SqliteBackend(Path()).lower_like("?")
    connection = sqlite3.connect(":memory:")
    for search in searches:
        escaped = search.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        for order in ids:
            found = connection.execute(
                f"SELECT lower(?) LIKE ? ESCAPE '\\', {as_is}",
                (order, f"%{escaped}%", order, f"%{escaped}%"),
            ).fetchone()
            assert found[0] == found[1], (order, search)
    connection.close()


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        # SQLite would search for a NUL that PostgreSQL refuses; neither driver encodes a surrogate
        (ListFilters(search="7be3\x00"), "Search cannot contain a NUL character."),
        (ListFilters(search="\x00"), "Search cannot contain a NUL character."),
        (ListFilters(search="7be3\ud800"), "Search holds U+D800, a lone surrogate, which is not text."),
        (ListFilters(location="chicago\x00"), "Location cannot contain a NUL character."),
    ],
    ids=["nul", "only-nul", "surrogate", "location-nul"],
)  # fmt: skip
def test_both_backends_refuse_the_same_filters_alike(
    store: AppStore, filters: ListFilters, message: str
) -> None:
    synced(store)
    calls = (
        lambda: store.page(filters),
        lambda: store.bulk_accept_preview(filters),
        lambda: store.bulk_accept(filters, "ann"),
    )
    for call in calls:
        with pytest.raises(InvalidFilter) as refused:
            call()
        assert str(refused.value) == message
    assert store.decisions() == []
    assert len(all_rows(store)) == len(ORDERS)  # the store is as usable as before


def test_keyset_pages_cover_every_row_once_and_stay_put(store: AppStore) -> None:
    synced(store)
    first = store.page(limit=3)
    assert first.total == len(ORDERS) and first.next_cursor is not None

    # A newer recommendation arrives while the reviewer is on page 1: page 2 does not shift.
    newer, newer_context = synthetic_frames(1, newest=SCORED_AT + timedelta(minutes=5), prefix="n")
    sync_frames(store, newer, newer_context)

    seen = [row.order_id for row in first.rows]
    cursor = first.next_cursor
    while cursor is not None:
        page = store.page(after=cursor, limit=3)
        seen += [row.order_id for row in page.rows]
        cursor = page.next_cursor
    assert seen == all_rows(store)[1:]  # everything but the newcomer, each once, in order
    assert store.page(limit=3).rows[0].order_id == newer["order_id"][0]


def test_order_detail_has_timeline_basket_route_and_history(store: AppStore) -> None:
    synced(store)
    detail = store.order_detail(order_id(PARTIAL))
    assert [event.event_type for event in detail.events] == [
        "order_created",
        "gk_started",
        "gk_finished",
        "gk_ready",
        "driver_arrived",
        "driver_picked_up",
        "delivered",
    ]  # in sequence, driver pings left out
    assert [(item.name, item.qty, item.line_total) for item in detail.items] == [
        ("Classic Smash Burger", 2, Decimal("23.00")),
        ("Shoestring Fries", 1, Decimal("4.25")),
    ]
    assert detail.recommendation.order_total == Decimal("27.25")
    assert (detail.p50, detail.p75, detail.p99) == (33.0, 41.0, 63.5)
    assert detail.location_title == "San Francisco"
    assert len(detail.route) >= 2
    assert detail.decisions == ()
    assert store.order_detail("no-such-order") is None


def test_odd_context_costs_a_line_not_the_detail(store: AppStore) -> None:
    recommendations, context = realistic_frames()
    partial = pl.col("order_id") == order_id(PARTIAL)
    sync_frames(
        store,
        recommendations,
        context.with_columns(
            pl.when(partial).then(pl.lit("{oops")).otherwise(pl.col("events")).alias("events"),
            pl.when(partial)
            .then(
                pl.lit(
                    '[{"name": "Fries", "brand": "Bun Voyage", "price": 4.25, "qty": 1}, {"name": 3}]'
                )
            )
            .otherwise(pl.col("items"))
            .alias("items"),
        ),
    )
    detail = store.order_detail(order_id(PARTIAL))
    assert detail.events == ()
    assert [item.name for item in detail.items] == ["Fries"]


def test_context_json_escapes_that_are_not_text_read_as_replacement_characters(
    store: AppStore,
) -> None:
    # the warehouse's to_json writes a NUL from a landed event as \u0000 (ASCII: either backend
    # stores it); read back it must not reach a screen as a NUL or a lone surrogate, which the
    # web driver cannot encode
    recommendations, context = realistic_frames()
    item = {"name": "Pad\x00Thai", "brand": "Wok \ud800", "price": 14.25, "qty": 1}
    event = {"sequence": 0, "event_type": "order\x00created", "ts": "2026-11-26 11:00:00"}
    context = with_values(context, "items", {order_id(PARTIAL): json.dumps([item])})
    context = with_values(context, "events", {order_id(PARTIAL): json.dumps([event])})
    sync_frames(store, recommendations, context)
    detail = store.order_detail(order_id(PARTIAL))
    assert [(item.name, item.brand) for item in detail.items] == [("Pad\ufffdThai", "Wok \ufffd")]
    assert [event.event_type for event in detail.events] == ["order\ufffdcreated"]


def test_a_decision_keeps_the_suggestion_and_the_latest_counts(store: AppStore) -> None:
    synced(store)
    row = store.page().rows[0]
    accepted = store.apply_decision(
        accept_draft(row.order_id, row.suggestion, "ann", row.order_total), expected=row.suggestion
    )
    assert accepted.source_suggestion["refund_usd"] == 8.5
    assert accepted.source_suggestion["agent_response"] == ORDERS[PARTIAL].response
    assert accepted.source_suggestion["model_version"] == "refund-model/3"

    corrected = store.apply_decision(
        DecisionDraft(row.order_id, Decimal("12.00"), "partial", "Called the customer.", "bob")
    )
    detail = store.order_detail(row.order_id)
    assert [decision.id for decision in detail.decisions] == [corrected.id, accepted.id]
    assert detail.recommendation.latest_decision.amount_usd == Decimal("12.00")
    summary = store.summary()
    assert (summary.decisions, summary.decided_usd, summary.pending) == (1, Decimal("12.00"), 7)
    assert summary.decided_by_class == {"none": 0, "partial": 1, "full": 0}
    assert store.counts() == {"decisions": 1, "pending": len(ORDERS) - 1}


def assert_figures_are_recounts(store: AppStore) -> None:
    """The kept summary, status counts and locations are what counting every row gives."""
    summary = store.summary()
    assert summary == store.summary_recounted()
    assert store.counts() == {"decisions": summary.decisions, "pending": summary.pending}
    rows = store.page(limit=10_000).rows
    assert store.locations() == sorted({row.location for row in rows if row.location is not None})
    assert store.health()["recommendations"] == len(rows)


def assert_totals_are_recounts(store: AppStore) -> None:
    """Each filter's total and rows are what filtering the whole list gives; decided orders are
    read whether there are few of them (from the decisions) or many (newest first)."""
    rows = store.page(limit=10_000).rows
    for status, refund_class, location in itertools.product(
        (None, *STATUSES), (None, *SUGGESTION_CLASSES), (None, *store.locations(), "nowhere")
    ):
        filters = ListFilters(status=status, refund_class=refund_class, location=location)
        expected = [
            row.order_id
            for row in rows
            if status in (None, row.status)
            and refund_class in (None, row.suggestion.refund_class)
            and location in (None, row.location)
        ]
        page = store.page(filters, limit=10_000)
        assert (page.total, [row.order_id for row in page.rows]) == (len(expected), expected)
        if status == "applied":  # a page of one: few decided orders count as many
            assert paged(store, filters, limit=1) == expected


def paged(store: AppStore, filters: ListFilters, limit: int) -> list[str]:
    seen, cursor = [], None
    while True:
        page = store.page(filters, cursor, limit=limit)
        seen += [row.order_id for row in page.rows]
        if page.next_cursor is None:
            return seen
        cursor = page.next_cursor


def test_the_kept_figures_follow_syncs_and_decisions(store: AppStore) -> None:
    """Re-scored orders change class, amount and location (one loses it); orders are decided,
    decided again differently, and bulk accepted: the figures stay what a recount gives."""
    assert store.summary() == store.summary_recounted()  # empty
    synced(store)
    assert_figures_are_recounts(store)
    partial, full = ORDERS[PARTIAL], ORDERS[FULL]
    newest = store.page().rows[0]
    store.apply_decision(
        accept_draft(newest.order_id, newest.suggestion, "ann", newest.order_total)
    )
    store.apply_decision(DecisionDraft(partial.order_id, Decimal("27.25"), "full", "Cold.", "bob"))
    store.apply_decision(deny_draft(full.order_id, "ann"))
    store.apply_decision(deny_draft(full.order_id, "bob"))  # the same class again
    assert_figures_are_recounts(store)
    assert store.summary().decided_by_class == {"none": 1, "partial": 0, "full": 1}
    assert store.bulk_accept(ListFilters(location="chicago"), "cy") == 1
    assert_figures_are_recounts(store)
    assert_totals_are_recounts(store)

    recommendations, context = realistic_frames()
    recommendations = with_values(
        recommendations,
        "agent_response",
        {
            partial.order_id: agent_response("none", 0.0, "Re-scored."),  # decided, class changes
            order_id(NOT_JSON): agent_response("partial", 2.5, "Re-scored."),  # error no more
        },
    )
    recommendations = with_values(recommendations, "location", {full.order_id: "bellevue"})
    recommendations = recommendations.with_columns(
        pl.when(pl.col("order_id") == order_id(NONE))
        .then(None)
        .otherwise(pl.col("location"))
        .alias("location")
    )
    newcomers, newcomer_context = synthetic_frames(30, newest=SCORED_AT + timedelta(hours=1))
    report = sync_frames(
        store,
        pl.concat([recommendations, newcomers]),
        pl.concat([context, newcomer_context], how="diagonal_relaxed"),
    )
    assert report.upserted == 4 + 30
    assert_figures_are_recounts(store)
    assert_totals_are_recounts(store)
    assert sync_frames(store, recommendations, context).upserted == 0
    assert_figures_are_recounts(store)
    summary = store.summary()
    assert (summary.recommendations, summary.decisions, summary.pending) == (38, 3, 35)


@pytest.mark.postgres
def test_large_writes_refresh_postgresqls_statistics_at_once(tmp_path: Path) -> None:
    """PostgreSQL plans a filtered page by its statistics of the tables: a sync or a bulk accept
    that changes a tenth of one samples them afresh rather than leave them to autovacuum (SQLite
    plans without statistics)."""
    with open_test_store("postgresql", tmp_path / "home") as store:
        _check_statistics_refresh(store)


def _check_statistics_refresh(store: AppStore) -> None:

    def analyzed(table: str) -> object:
        with store.backend.connect() as connection:
            return connection.execute(
                "SELECT last_analyze FROM pg_stat_user_tables WHERE schemaname = %s AND relname = %s",
                split_name(table),
            ).fetchone()[0]

    synced(store)  # 8 rows: not worth it
    store.bulk_accept(ListFilters(location="chicago"), "ann")  # 2 decisions: neither
    assert analyzed(RECOMMENDATIONS) is None and analyzed(DECISIONS) is None
    sync_frames(store, *synthetic_frames(200))
    first = analyzed(RECOMMENDATIONS)
    assert first is not None
    sync_frames(store, *synthetic_frames(20, prefix="few"))  # 20 of 208: under 50 + a tenth
    assert analyzed(RECOMMENDATIONS) == first
    assert store.bulk_accept(ListFilters(), "ann") > 50
    assert analyzed(DECISIONS) is not None


def test_a_store_made_before_the_counts_tables_is_counted_when_opened(store: AppStore) -> None:
    synced(store)
    store.apply_decision(deny_draft(order_id(FULL), "ann"))
    store.apply_decision(DecisionDraft(order_id(FULL), Decimal("3.00"), "partial", "Late.", "bob"))
    store.bulk_accept(ListFilters(refund_class="none"), "ann")
    before = store.summary()
    connection = store.backend.connect()
    for table in (RECOMMENDATION_COUNTS, DECISION_COUNTS):
        connection.execute(f"DROP TABLE {table}")
    connection.close()
    with AppStore(store.backend) as reopened:
        reopened.ensure_schema()  # what open_store does
        assert reopened.summary() == before == reopened.summary_recounted()
        reopened.ensure_schema()  # counted once: a second open changes nothing
        assert reopened.summary() == before


def test_text_is_stored_verbatim(store: AppStore) -> None:
    synced(store)
    reason = "  \"Cold\" food; it's 50% off'); DROP TABLE refunds.refund_decisions;--\t[b]x[/b] 🍜 "
    reviewer = "Zoë O'Brien; --"
    store.apply_decision(DecisionDraft(order_id(NONE), Decimal("0.00"), "none", reason, reviewer))
    (decision,) = store.order_detail(order_id(NONE)).decisions
    assert (decision.reason, decision.decided_by) == (reason, reviewer)


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        # SQLite would keep a NUL that PostgreSQL refuses; neither driver can encode a surrogate
        ({"reason": "Cold\x00"}, "reason", "Reason cannot contain a NUL character."),
        ({"reason": "Cold \ud800"}, "reason", "Reason holds U+D800, a lone surrogate, which is not text."),
        ({"decided_by": "ann\x00"}, "decided_by", "Decided by cannot contain a NUL character."),
        ({"order_id": "7be3\x00"}, "order_id", "Order id cannot contain a NUL character."),
        ({"amount_usd": 1.5}, "amount_usd", "Amount must be a Decimal, not float."),
        ({"reason": None}, "reason", "A reason is required."),
    ],
)  # fmt: skip
def test_both_backends_refuse_the_same_input_alike(
    store: AppStore, changes: dict, field: str, message: str
) -> None:
    synced(store)
    draft = DecisionDraft(order_id(FULL), Decimal("1.00"), "full", "Cold.", "ann")
    with pytest.raises(InvalidDecision) as refused:
        store.apply_decision(replace(draft, **changes))
    assert (refused.value.field, refused.value.message) == (field, message)
    assert store.decisions() == []


def test_bulk_accept_refuses_a_reviewer_either_backend_cannot_store(store: AppStore) -> None:
    synced(store)
    for reviewer, why in (("ann\x00", "NUL"), ("\ud800", "lone surrogate"), (None, "required")):
        with pytest.raises(InvalidDecision, match=why) as refused:
            store.bulk_accept(ListFilters(), reviewer)
        assert refused.value.field == "decided_by"
    assert store.decisions() == []


def test_a_suggestion_replaced_by_a_sync_is_not_accepted_blindly(store: AppStore) -> None:
    synced(store)
    shown = store.page().rows[0]
    recommendations, context = realistic_frames()
    sync_frames(
        store,
        recommendations.with_columns(
            pl.when(pl.col("order_id") == shown.order_id)
            .then(pl.lit(agent_response("partial", 2.0, "Re-scored.")))
            .otherwise(pl.col("agent_response"))
            .alias("agent_response")
        ),
        context,
    )
    with pytest.raises(StaleSuggestion):
        store.apply_decision(
            accept_draft(shown.order_id, shown.suggestion, "ann", shown.order_total),
            expected=shown.suggestion,
        )
    assert store.counts()["decisions"] == 0


def test_the_store_rechecks_the_rules(store: AppStore) -> None:
    synced(store)
    with pytest.raises(InvalidDecision, match="order total"):
        store.apply_decision(
            DecisionDraft(order_id(ABOVE_TOTAL), Decimal("95.00"), "full", "Beyond P99.", "ann")
        )
    with pytest.raises(InvalidDecision, match="No recommendation"):
        store.apply_decision(DecisionDraft("unknown", Decimal("1.00"), "full", "r", "ann"))
    assert store.decisions() == []


def test_bulk_accept_takes_the_acceptable_pending_ones_in_the_selection(store: AppStore) -> None:
    synced(store)
    store.apply_decision(deny_draft(order_id(SECOND_PARTIAL), "ann"))
    chicago = ListFilters(location="chicago")
    preview = store.bulk_accept_preview(chicago)
    # FULL is acceptable; UNKNOWN_CLASS is an error and ABOVE_TOTAL exceeds its order total;
    # SECOND_PARTIAL is already decided.
    assert (preview.accepted, preview.accepted_usd, preview.skipped) == (1, Decimal("28.75"), 2)
    assert store.bulk_accept(chicago, "ann") == 1
    assert store.bulk_accept(chicago, "ann") == 0
    assert store.bulk_accept_preview(replace(chicago, status="applied")).accepted == 0

    everything = store.bulk_accept(ListFilters(), "bob")
    assert everything == 2  # PARTIAL and NONE; the three errors stay pending
    decided = {d.order_id: d for d in store.decisions()}
    assert decided[order_id(FULL)].decided_by == "ann"
    assert decided[order_id(PARTIAL)].amount_usd == Decimal("8.50")
    assert (
        decided[order_id(PARTIAL)].source_suggestion["agent_response"] == ORDERS[PARTIAL].response
    )
    assert set(all_rows(store, ListFilters(status="pending"))) == {
        order_id(NOT_JSON),
        order_id(UNKNOWN_CLASS),
        order_id(NEGATIVE),
        order_id(ABOVE_TOTAL),
    }


def test_export_writes_every_decision_verbatim(store: AppStore, tmp_path: Path) -> None:
    synced(store)
    reason = 'Line with "quotes", commas, and =SUM(A1)'
    store.apply_decision(DecisionDraft(order_id(FULL), Decimal("28.75"), "full", reason, "ann"))
    store.apply_decision(deny_draft(order_id(NONE), "bob"))
    path = tmp_path / "out" / "decisions.csv"
    assert export_decisions_csv(store, path) == 2
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["order_id"], r["amount_usd"], r["refund_class"], r["reason"]) for r in rows] == [
        (order_id(FULL), "28.75", "full", reason),
        (order_id(NONE), "0.00", "none", "Denied by the reviewer."),
    ]
    assert json.loads(rows[0]["source_suggestion"])["refund_class"] == "full"


def test_export_neutralises_cells_a_spreadsheet_would_run_as_formulas(
    store: AppStore, tmp_path: Path
) -> None:
    synced(store)
    # OWASP's CSV injection list: a cell starting with any of these is read as a formula
    reasons = ['=HYPERLINK("http://evil.example","refund")', "+1", "-2+3", "@SUM(A1)", "\tx", "\rx"]
    for reason in reasons:
        store.apply_decision(
            DecisionDraft(order_id(FULL), Decimal("28.75"), "full", reason, "=cmd|' /C calc'!A0")
        )
    path = tmp_path / "decisions.csv"
    export_decisions_csv(store, path)
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["reason"] for row in rows] == [f"'{reason}" for reason in reasons]
    assert {row["decided_by"] for row in rows} == {"'=cmd|' /C calc'!A0"}
    assert {(row["amount_usd"], row["order_id"]) for row in rows} == {("28.75", order_id(FULL))}
    assert all(row["id"].isdigit() for row in rows)  # numbers stay numbers


def test_health_reports_what_the_store_holds(store: AppStore) -> None:
    synced(store)
    health = store.health()
    assert health["ok"] is True
    assert health["backend"] == store.backend.name
    assert (health["recommendations"], health["decisions"]) == (len(ORDERS), 0)
    assert health["last_sync_ts"] is not None
    assert "password" not in health["location"]


def test_health_of_an_unreachable_server_is_a_report_not_a_crash() -> None:
    backend = PostgresBackend("postgresql://casper:secret@127.0.0.1:1/nowhere?connect_timeout=2")
    with AppStore(backend) as unreachable:
        health = unreachable.health()
        with pytest.raises(StoreError) as refused:
            unreachable.summary()
    assert health["ok"] is False and health["error"]
    assert "secret" not in health["location"]
    # libpq adds a second line ("Is the server running...?"); an error here is one line
    assert "\n" not in str(refused.value) and "Connection refused" in str(refused.value)


def test_status_counts_without_creating_a_store(tmp_path: Path) -> None:
    home = CasperHome(tmp_path / "home")
    assert store_counts(home) == {"decisions": 0, "pending": 0}
    assert not (tmp_path / "home").exists()
    with open_store(home) as embedded:
        sync_frames(embedded, *realistic_frames())
        embedded.apply_decision(deny_draft(order_id(FULL), "ann"))
    assert store_counts(home) == {"decisions": 1, "pending": len(ORDERS) - 1}


def test_a_dsn_that_is_not_postgresql_is_refused_without_echoing_it(tmp_path: Path) -> None:
    with pytest.raises(StoreError) as refused:
        open_store(CasperHome(tmp_path), "mysql://root:hunter2@db/x")
    assert "hunter2" not in str(refused.value)


def test_sync_from_another_process_while_decisions_are_written(store: AppStore) -> None:
    """The pipeline's sync and the review app write at the same time: no lock error, nothing lost."""
    synced(store)
    batches, batch_size = 6, 400
    syncing = sync_in_subprocess(store, batches, batch_size)
    reviewer = second_handle(store)
    written = []
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            pending = reviewer.page(ListFilters(status="pending", refund_class="partial"), limit=10)
            for row in pending.rows:
                draft = accept_draft(row.order_id, row.suggestion, "ann", row.order_total)
                written.append(reviewer.apply_decision(draft))
            if syncing.poll() is not None and len(written) >= 40:
                break
    finally:
        out, err = syncing.communicate(timeout=120)
        reviewer.close()
    assert syncing.returncode == 0, err
    assert out.count("upserted") == batches
    decided = {decision.id for decision in store.decisions()}
    assert {decision.id for decision in written} <= decided
    assert store.summary().recommendations == len(ORDERS) + batches * batch_size
    assert_figures_are_recounts(store)  # each writer kept its counts under the other's feet


def test_threads_share_one_store_safely(store: AppStore) -> None:
    """The review app calls one store from several worker threads at once."""
    sync_frames(store, *synthetic_frames(300))
    failures: list[BaseException] = []

    def read() -> None:
        try:
            for _ in range(20):
                store.summary()
                store.page(ListFilters(status="pending"), limit=25)
        except BaseException as failure:  # collected, and asserted on below
            failures.append(failure)

    def decide() -> None:
        try:
            for row in store.page(ListFilters(refund_class="none"), limit=30).rows:
                store.apply_decision(deny_draft(row.order_id, "ann"))
        except BaseException as failure:
            failures.append(failure)

    threads = [threading.Thread(target=read) for _ in range(3)] + [threading.Thread(target=decide)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert store.counts()["decisions"] == 30
    assert_figures_are_recounts(store)


def test_two_reviewers_deciding_the_same_orders_at_once_keep_the_figures(store: AppStore) -> None:
    """Two connections (two reviewers' apps) decide, re-decide and bulk accept the same orders
    at the same time: each decision moves its order between classes exactly once."""
    sync_frames(store, *synthetic_frames(120))
    order_ids = [row.order_id for row in store.page(ListFilters(refund_class="none")).rows]
    failures: list[BaseException] = []

    def review(reviewer: AppStore, name: str, draft: Callable[[str], DecisionDraft]) -> None:
        try:
            for order in order_ids:
                reviewer.apply_decision(draft(order))
            reviewer.bulk_accept(ListFilters(refund_class="partial"), name)
        except BaseException as failure:  # collected, and asserted on below
            failures.append(failure)
        finally:
            reviewer.close()

    threads = [
        threading.Thread(target=review, args=(second_handle(store), "ann", deny_draft_by("ann"))),
        threading.Thread(
            target=review,
            args=(
                second_handle(store),
                "bob",
                lambda order: DecisionDraft(order, Decimal("1.50"), "partial", "Late.", "bob"),
            ),
        ),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert_figures_are_recounts(store)
    summary = store.summary()
    assert summary.decided_by_class["none"] + summary.decided_by_class["partial"] >= len(order_ids)


def deny_draft_by(reviewer: str) -> Callable[[str], DecisionDraft]:
    return lambda order: deny_draft(order, reviewer)


@pytest.mark.slow
def test_a_hundred_thousand_rows_page_by_keyset(store: AppStore) -> None:
    """Behaviour at size (the timings are benchmarks/bench_appstore.py's)."""
    report = sync_frames(store, *synthetic_frames(100_000))
    assert report.upserted == 100_000
    first = store.page()
    cursor = first.next_cursor
    for _ in range(50):
        page = store.page(after=cursor)
        cursor = page.next_cursor
    assert page.rows[0].order_id == f"s{5000:015x}"  # page 51 starts at row 5,001
    filtered = store.page(ListFilters(status="pending", refund_class="partial", location="chicago"))
    searched = store.page(ListFilters(search="00ff"))
    assert first.total == 100_000 and len(first.rows) == 100
    assert filtered.total > 0 and searched.total > 0
    assert all(
        row.suggestion.refund_class == "partial" and row.location == "chicago"
        for row in filtered.rows
    )
    assert all("00ff" in row.order_id for row in searched.rows)


def test_a_sync_writes_batches_oldest_first_and_one_stopped_midway_resumes(
    store: AppStore, monkeypatch
) -> None:
    import casper.appstore.sync as sync_module

    monkeypatch.setattr(sync_module, "BATCH_ORDERS", 3)
    recommendations, context = synthetic_frames(10)
    oldest_first = recommendations.sort("ts")["order_id"].to_list()
    upsert, calls = store.upsert_synced, []

    def failing_on_the_second_batch(rows, context_rows):
        calls.append(len(rows))
        if len(calls) == 2:
            raise OSError("the store went away")
        return upsert(rows, context_rows)

    monkeypatch.setattr(store, "upsert_synced", failing_on_the_second_batch)
    with pytest.raises(OSError):
        sync_frames(store, recommendations, context)
    held = {row.order_id for row in store.page(limit=100).rows}
    assert held == set(oldest_first[:3])  # the first batch, whole, and nothing of the second
    assert all(store.order_detail(o).created_ts is not None for o in held)  # with its context
    watermark = store.newest_scored_ts()
    assert watermark == recommendations.sort("ts")["ts"][2]

    monkeypatch.setattr(store, "upsert_synced", upsert)
    rest = recommendations.filter(pl.col("ts") >= watermark)  # what the warehouse gives next
    report = sync_frames(store, rest, context)
    assert (report.upserted, report.unchanged) == (7, 1)  # the watermark's own order is held
    assert calls == [3, 3]  # the first run's two batches, the second refused
    assert {row.order_id for row in store.page(limit=100).rows} == set(oldest_first)
    assert store.summary() == store.summary_recounted()
    assert all(store.order_detail(o).created_ts is not None for o in oldest_first)
