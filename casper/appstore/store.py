"""The app store's data access: every query and write the review app and the sync need.

No UI code here. One connection per store, shared by the caller's threads under a lock, so a UI can
run any method from a worker thread. Driver errors come out as `StoreError`, a rule broken by a
decision as `InvalidDecision`, a filter neither backend can search by as `InvalidFilter` (a
`StoreError`), a suggestion replaced under the reviewer as `StaleSuggestion`.

The summary's figures are kept, not counted: the sync and every decision add what they change to
the small counts tables (casper.appstore.schema) in their own transaction, so a summary costs the
same at a million recommendations as at ten; `summary_recounted` counts the rows themselves, to
check them. The figures rely on what the store's writes guarantee: a decision is only written for
a recommendation the store holds, and the sync never removes a recommendation.
"""

from __future__ import annotations

import functools
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, ParamSpec, TypeVar

from casper.appstore.backends import Backend, PostgresBackend, SqliteBackend
from casper.appstore.context import parse_basket, parse_route, parse_timeline
from casper.appstore.decisions import (
    DecisionDraft,
    InvalidDecision,
    check_decided_by,
    check_draft,
)
from casper.appstore.records import (
    BulkAcceptPreview,
    Decision,
    ListFilters,
    ListPage,
    OrderDetail,
    PageCursor,
    RecommendationRow,
    Summary,
)
from casper.appstore.schema import (
    CONTEXT,
    CONTEXT_COLUMNS,
    DECISION_COUNTS,
    DECISIONS,
    RECOMMENDATION_COLUMNS,
    RECOMMENDATION_COUNTS,
    RECOMMENDATION_SOURCE_COLUMNS,
    RECOMMENDATIONS,
    create_missing,
    reviewer_grants,
    schema_current,
)
from casper.appstore.suggestion import REFUND_CLASSES, SUGGESTION_CLASSES, Suggestion, to_cents
from casper.appstore.text import text_problem
from casper.errors import CasperError
from casper.home import CasperHome

PAGE_SIZE = 100
# A search matching at most this many recommendations is counted and paged from one scan.
SEARCH_MATCHES_HELD = 1000

P = ParamSpec("P")
R = TypeVar("R")


class StoreError(CasperError):
    """The app store could not be reached, or refused a statement."""


class InvalidFilter(StoreError):
    """A list filter the store refuses: text neither backend could search alike. `field` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def check_filter_text(value: str, field: str, label: str) -> str:
    """A filter's text as both backends take it, else InvalidFilter with the rule's sentence."""
    problem = text_problem(value, label)
    if problem is not None:
        raise InvalidFilter(field, problem)
    return value


def check_search(search: str) -> str:
    return check_filter_text(search, "search", "Search")


class StaleSuggestion(CasperError):
    """The suggestion was replaced by a sync after the reviewer saw it."""


def utc_now() -> datetime:
    """Naive UTC, like every timestamp in the project."""
    return datetime.now(UTC).replace(tzinfo=None)


_HAS_DECISION = f"EXISTS (SELECT 1 FROM {DECISIONS} x WHERE x.order_id = r.order_id)"
_LATEST_DECISION = (
    f"LEFT JOIN {DECISIONS} d ON d.id = "
    f"(SELECT max(x.id) FROM {DECISIONS} x WHERE x.order_id = r.order_id)"
)
_WITH_CONTEXT = f"LEFT JOIN {CONTEXT} c ON c.order_id = r.order_id"
# The recommendations of decided orders, read from the decided orders (the CROSS JOIN keeps SQLite
# from turning it around); joined on the condition that follows it.
_FROM_DECIDED = (
    f"(SELECT DISTINCT order_id FROM {DECISIONS}) decided CROSS JOIN {RECOMMENDATIONS} r"
)
_DECIDED_JOIN = "r.order_id = decided.order_id"
# A suggestion bulk accept may take: what `accept_draft` would accept, said in SQL.
_ACCEPTABLE = (
    "r.suggested_class <> 'error' AND trim(r.suggested_reason) <> '' "
    "AND (c.order_total IS NULL OR r.suggested_usd <= c.order_total)"
)
_SUGGESTION_COLUMNS = (
    "r.suggested_class, r.suggested_usd, r.suggested_reason, r.suggestion_error, "
    "r.model_version, r.ts, r.agent_response"
)
_DECISION_COLUMNS = (
    "d.id, d.order_id, d.decided_ts, d.amount_usd, d.refund_class, d.reason, d.decided_by, "
    "d.source_suggestion"
)
_ROW_COLUMNS = (
    "r.order_id, r.ts, r.location, r.model_version, r.suggested_class, r.suggested_usd, "
    f"r.suggested_reason, r.suggestion_error, c.order_total, {_DECISION_COLUMNS}"
)
_INSERT_DECISION = (
    f"INSERT INTO {DECISIONS} "
    "(order_id, decided_ts, amount_usd, refund_class, reason, decided_by, source_suggestion) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)"
)


# The counts tables' keys and figures (casper.appstore.schema).
_RECOMMENDATION_KEY = ("suggested_class", "location")
_RECOMMENDATION_FIGURES = ("recommendations", "suggested_cents")
_DECISION_KEY = ("refund_class",)
_DECISION_FIGURES = ("orders", "amount_cents")
_LATEST_PER_ORDER = f"d.id IN (SELECT max(id) FROM {DECISIONS} GROUP BY order_id)"


def _cents_sql(column: str) -> str:
    """An amount as whole cents, exact on both backends (SQLite holds NUMERIC as REAL)."""
    return f"CAST(round({column} * 100) AS BIGINT)"


def _cent_count(amount: Any) -> int:
    return int(to_cents(amount) * 100)


class _Tally:
    """(count, cents) by key: what a write adds to (or, negative, takes from) a counts table."""

    def __init__(self) -> None:
        self.figures: defaultdict[tuple[Any, ...], list[int]] = defaultdict(lambda: [0, 0])

    def add(self, key: tuple[Any, ...], count: int, cents: int) -> None:
        figures = self.figures[key]
        figures[0] += count
        figures[1] += cents

    def changes(self) -> Mapping[tuple[Any, ...], list[int]]:
        return {key: figures for key, figures in self.figures.items() if figures != [0, 0]}


def _where(conditions: Sequence[str]) -> str:
    return f"WHERE {' AND '.join(conditions)}" if conditions else ""


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _class_location_sql(filters: ListFilters, prefix: str) -> tuple[list[str], list[Any]]:
    """The class and location filters, on `prefix`'s columns (the counts tables name them alike)."""
    conditions: list[str] = []
    params: list[Any] = []
    if filters.refund_class is not None:
        conditions.append(f"{prefix}suggested_class = ?")
        params.append(filters.refund_class)
    if filters.location is not None:
        conditions.append(f"{prefix}location = ?")
        params.append(check_filter_text(filters.location, "location", "Location"))
    return conditions, params


def _filter_sql(filters: ListFilters, backend: Backend) -> tuple[list[str], list[Any]]:
    conditions, params = _class_location_sql(filters, "r.")
    if filters.status == "pending":
        conditions.append(f"NOT {_HAS_DECISION}")
    elif filters.status == "applied":
        conditions.append(_HAS_DECISION)
    # Checked even when blank: a NUL is not blank to strip(), and neither backend may see it.
    check_search(filters.search)
    if filters.search.strip():
        conditions.append(backend.lower_like("r.order_id"))
        params.append(f"%{_escape_like(filters.search.strip().lower())}%")
    return conditions, params


def _cents(value: Any) -> Decimal | None:
    return None if value is None else to_cents(value)


def _source_suggestion(
    suggestion: Suggestion,
    model_version: str | None,
    scored_ts: datetime,
    agent_response: str | None,
) -> dict[str, Any]:
    """The suggestion as it stood when the decision was made, kept with the decision."""
    return {
        "refund_class": suggestion.refund_class,
        "refund_usd": None if suggestion.refund_usd is None else float(suggestion.refund_usd),
        "reason": suggestion.reason,
        "error": suggestion.error,
        "model_version": model_version,
        "scored_ts": scored_ts.isoformat(sep=" "),
        "agent_response": agent_response,
    }


def _usd(cents: Any) -> Decimal:
    return to_cents(Decimal(int(cents or 0)) / 100)


def _summary(suggested: Sequence[tuple], decided: Sequence[tuple], *, pending: int) -> Summary:
    """The summary from (class, count, cents) rows: suggested by class and decided by class."""
    suggested_by_class = dict.fromkeys(SUGGESTION_CLASSES, 0)
    suggested_by_class.update({cls: int(count) for cls, count, _ in suggested})
    decided_by_class = dict.fromkeys(REFUND_CLASSES, 0)
    decided_by_class.update({cls: int(count) for cls, count, _ in decided})
    return Summary(
        recommendations=sum(suggested_by_class.values()),
        suggested_by_class=suggested_by_class,
        suggested_usd=_usd(sum(int(cents or 0) for _, _, cents in suggested)),
        decisions=sum(decided_by_class.values()),
        decided_by_class=decided_by_class,
        decided_usd=_usd(sum(int(cents or 0) for _, _, cents in decided)),
        pending=pending,
    )


def driver_message(error: Exception) -> str:
    """The driver's message in one line: libpq's first line names the host, the port and what
    failed (never the password); the lines after it are hints ("Is the server running...?")."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _guarded(method: Callable[P, R]) -> Callable[P, R]:
    """Serialise use of the connection and turn driver errors into StoreError."""

    @functools.wraps(method)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        store: AppStore = args[0]  # type: ignore[assignment]
        with store._lock:
            try:
                return method(*args, **kwargs)
            except store.backend.driver_errors as exc:
                store._forget_broken_connection()
                raise StoreError(
                    f"app store ({store.backend.name}): {driver_message(exc)}"
                ) from exc

    return run


class AppStore:
    def __init__(self, backend: Backend, *, clock: Callable[[], datetime] = utc_now) -> None:
        self.backend = backend
        self._clock = clock
        self._lock = threading.RLock()
        self._connection: Any = None

    def __enter__(self) -> AppStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None

    @property
    def _conn(self) -> Any:
        if self._connection is None:
            self._connection = self.backend.connect()
        return self._connection

    def _forget_broken_connection(self) -> None:
        # A PostgreSQL server restart breaks the connection; the next call reconnects.
        connection = self._connection
        if connection is not None and (
            getattr(connection, "broken", False) or getattr(connection, "closed", False)
        ):
            self._connection = None

    def _all(self, sql: str, params: Iterable[Any] = ()) -> list[tuple]:
        values = tuple(self.backend.param(value) for value in params)
        return self._conn.execute(self.backend.sql(sql), values).fetchall()

    def _one(self, sql: str, params: Iterable[Any] = ()) -> tuple | None:
        # fetchall, not fetchone: SQLite finishes an INSERT ... RETURNING only when stepped to the end.
        rows = self._all(sql, params)
        return rows[0] if rows else None

    def _scalar(self, sql: str, params: Iterable[Any] = ()) -> Any:
        row = self._one(sql, params)
        return None if row is None else row[0]

    # --- schema -----------------------------------------------------------------------------

    @_guarded
    def ensure_schema(self) -> None:
        """Create the schemas, tables and indexes that are missing; safe to run any time. A store
        made before the counts tables existed has them counted once, here. When nothing is
        missing, which a look at the catalog tells, nothing waits for a lock: a sync writing
        meanwhile does not hold up the review app's start."""
        if schema_current(self._conn, self.backend):
            return  # each counts table was filled in the transaction that made it
        with self.backend.schema_transaction(self._conn):
            create_missing(self._conn, self.backend)
            self._count_if_uncounted()

    @_guarded
    def grant_reviewer(self, role: str) -> None:
        """Let the PostgreSQL role `role` read the store and add decisions (another identity's
        review app, such as a Databricks App's service principal)."""
        if not isinstance(self.backend, PostgresBackend):
            raise StoreError("only a PostgreSQL app store has roles to grant to")
        with self.backend.schema_transaction(self._conn):
            for statement in reviewer_grants(role):
                self._conn.execute(statement)

    def _count_if_uncounted(self) -> None:
        # A counts table is empty exactly when what it counts is (a key leaves at zero).
        row = self._one(
            f"SELECT EXISTS (SELECT 1 FROM {RECOMMENDATIONS}), "
            f"EXISTS (SELECT 1 FROM {RECOMMENDATION_COUNTS}), "
            f"EXISTS (SELECT 1 FROM {DECISIONS}), EXISTS (SELECT 1 FROM {DECISION_COUNTS})"
        )
        assert row is not None
        recommendations, recommendations_counted, decisions, decisions_counted = map(bool, row)
        if recommendations and not recommendations_counted:
            self.backend.lock_table(self._conn, RECOMMENDATIONS)
            self._conn.execute(
                f"INSERT INTO {RECOMMENDATION_COUNTS} "
                f"({', '.join((*_RECOMMENDATION_KEY, *_RECOMMENDATION_FIGURES))}) "
                f"SELECT suggested_class, location, count(*), "
                f"coalesce(sum({_cents_sql('suggested_usd')}), 0) FROM {RECOMMENDATIONS} "
                "GROUP BY suggested_class, location"
            )
        if decisions and not decisions_counted:
            self.backend.lock_table(self._conn, DECISIONS)
            self._conn.execute(
                f"INSERT INTO {DECISION_COUNTS} "
                f"({', '.join((*_DECISION_KEY, *_DECISION_FIGURES))}) "
                f"SELECT d.refund_class, count(*), coalesce(sum({_cents_sql('d.amount_usd')}), 0) "
                f"FROM {DECISIONS} d WHERE {_LATEST_PER_ORDER} GROUP BY d.refund_class"
            )

    def _add_counts(
        self, table: str, key: Sequence[str], figures: Sequence[str], tally: _Tally
    ) -> None:
        """Add a write's tally to a counts table, within the write's transaction (whose lock keeps
        the table's other writers out). The table is a row per key, so it is read, added to and
        written back whole: a few statements however many keys changed."""
        changes = tally.changes()
        if not changes:
            return
        columns = ", ".join((*key, *figures))
        held = {
            tuple(row[: len(key)]): [int(row[-2]), int(row[-1])]
            for row in self._all(f"SELECT {columns} FROM {table}")
        }
        for changed, (count, cents) in changes.items():
            figures_held = held.setdefault(changed, [0, 0])
            figures_held[0] += count
            figures_held[1] += cents
        self._conn.execute(f"DELETE FROM {table}")
        marks = ", ".join("?" for _ in (*key, *figures))
        self.backend.executemany(
            self._conn,
            self.backend.sql(f"INSERT INTO {table} ({columns}) VALUES ({marks})"),
            [(*k, count, cents) for k, (count, cents) in held.items() if count != 0],
        )

    # --- reading ----------------------------------------------------------------------------

    def _decision(self, values: Sequence[Any]) -> Decision:
        decision_id, order_id, decided_ts, amount, refund_class, reason, decided_by, source = values
        return Decision(
            id=int(decision_id),
            order_id=order_id,
            decided_ts=self.backend.timestamp(decided_ts),
            amount_usd=to_cents(amount),
            refund_class=refund_class,
            reason=reason,
            decided_by=decided_by,
            source_suggestion=self.backend.json_value(source),
        )

    def _recommendation(self, values: Sequence[Any]) -> RecommendationRow:
        order_id, ts, location, model_version, refund_class, usd, reason, error, total = values[:9]
        decision = values[9:17]
        return RecommendationRow(
            order_id=order_id,
            scored_ts=self.backend.timestamp(ts),
            location=location,
            model_version=model_version,
            suggestion=Suggestion(refund_class, _cents(usd), reason, error),
            order_total=_cents(total),
            latest_decision=self._decision(decision) if decision[0] is not None else None,
        )

    @_guarded
    def revision(self) -> tuple[Any, Any]:
        """Changes whenever a sync changes a recommendation or a decision is written; cheap to poll."""
        row = self._one(
            f"SELECT (SELECT max(sync_batch) FROM {RECOMMENDATIONS}), (SELECT max(id) FROM {DECISIONS})"
        )
        assert row is not None
        return row[0], row[1]

    @_guarded
    def summary(self) -> Summary:
        """The list's figures, from the counts tables: a few rows, whatever the store holds."""
        with self.backend.read_snapshot(self._conn):
            suggested = self._all(
                f"SELECT suggested_class, sum(recommendations), sum(suggested_cents) "
                f"FROM {RECOMMENDATION_COUNTS} GROUP BY suggested_class"
            )
            decided = self._all(f"SELECT refund_class, orders, amount_cents FROM {DECISION_COUNTS}")
        recommendations = sum(int(count) for _, count, _ in suggested)
        decisions = sum(int(count) for _, count, _ in decided)
        # every decided order has a recommendation (see the module's docstring)
        return _summary(suggested, decided, pending=recommendations - decisions)

    @_guarded
    def summary_recounted(self) -> Summary:
        """The summary counted from the recommendations and decisions themselves, reading every
        row: what `summary` must equal. A check of the kept figures, too slow for a screen."""
        with self.backend.read_snapshot(self._conn):
            suggested = self._all(
                f"SELECT suggested_class, count(*), sum({_cents_sql('suggested_usd')}) "
                f"FROM {RECOMMENDATIONS} GROUP BY suggested_class"
            )
            decided = self._all(
                f"SELECT d.refund_class, count(*), sum({_cents_sql('d.amount_usd')}) "
                f"FROM {DECISIONS} d WHERE {_LATEST_PER_ORDER} GROUP BY d.refund_class"
            )
            pending = self._scalar(
                f"SELECT count(*) FROM {RECOMMENDATIONS} r WHERE NOT {_HAS_DECISION}"
            )
        return _summary(suggested, decided, pending=int(pending))

    def _held(self) -> tuple[int, int]:
        """(recommendations, decided orders), from the counts tables."""
        row = self._one(
            f"SELECT (SELECT coalesce(sum(recommendations), 0) FROM {RECOMMENDATION_COUNTS}), "
            f"(SELECT coalesce(sum(orders), 0) FROM {DECISION_COUNTS})"
        )
        assert row is not None
        return int(row[0]), int(row[1])

    @_guarded
    def counts(self) -> dict[str, int]:
        """For `casper status`: orders with a decision, and recommendations without one."""
        with self.backend.read_snapshot(self._conn):
            recommendations, decided = self._held()
        return {"decisions": decided, "pending": recommendations - decided}

    @_guarded
    def locations(self) -> list[str]:
        rows = self._all(
            f"SELECT DISTINCT location FROM {RECOMMENDATION_COUNTS} WHERE location IS NOT NULL "
            "ORDER BY location"
        )
        return [location for (location,) in rows]

    @_guarded
    def newest_scored_ts(self) -> datetime | None:
        """The newest recommendation held, a watermark for reading only newer ones to sync."""
        return self.backend.timestamp(self._scalar(f"SELECT max(ts) FROM {RECOMMENDATIONS}"))

    @_guarded
    def page(
        self,
        filters: ListFilters = ListFilters(),
        after: PageCursor | None = None,
        limit: int = PAGE_SIZE,
    ) -> ListPage:
        """Recommendations newest first, with their latest decision. Keyset paging: the cost of a
        page does not grow with how deep it is, and a page stays put while new rows arrive on top.
        The total comes from the counts tables and the decided orders, not from counting the
        matching rows, except for a search by order id, which has to read every id: on SQLite, a
        search with few matches keeps them from that one scan and pages through them alone."""
        conditions, params = _filter_sql(filters, self.backend)
        one_scan = self.backend.search_in_one_scan and filters.search.strip()
        with self.backend.read_snapshot(self._conn):
            only = self._few_matches(conditions, params) if one_scan else None
            total = len(only) if only is not None else self._total(filters, conditions, params)
            rows = self._page_rows(filters, after, limit, only) if total else []
        recommendations = tuple(self._recommendation(row) for row in rows[:limit])
        last = recommendations[-1] if recommendations else None
        has_more = len(rows) > limit and last is not None
        return ListPage(
            rows=recommendations,
            total=total,
            next_cursor=PageCursor(last.scored_ts, last.order_id) if has_more else None,
        )

    def _few_matches(self, conditions: list[str], params: list[Any]) -> list[str] | None:
        """The order ids matching `conditions` if there are at most SEARCH_MATCHES_HELD, else None
        (read no further than one more)."""
        rows = self._all(
            f"SELECT r.order_id FROM {RECOMMENDATIONS} r {_where(conditions)} LIMIT ?",
            [*params, SEARCH_MATCHES_HELD + 1],
        )
        return [order_id for (order_id,) in rows] if len(rows) <= SEARCH_MATCHES_HELD else None

    def _page_rows(
        self,
        filters: ListFilters,
        after: PageCursor | None,
        limit: int,
        only: Sequence[str] | None = None,
    ) -> list[tuple]:
        """A page of `filters`' rows after `after`; of the orders `only`, when given."""
        source = f"{RECOMMENDATIONS} r"
        conditions, params = _filter_sql(filters, self.backend)
        if only is not None:  # a search's few matches: read by their ids
            conditions.append(f"r.order_id IN ({', '.join('?' for _ in only)})")
            params += only
        elif filters.status == "applied" and self._few_decided(limit):
            # Scanning newest first for decided orders would read nearly every row to find a
            # page of them: start from the decided orders instead, and sort those.
            source = _FROM_DECIDED
            conditions, params = _filter_sql(replace(filters, status=None), self.backend)
            conditions.insert(0, _DECIDED_JOIN)
        if after is not None:
            conditions.append("(r.ts, r.order_id) < (?, ?)")
            params += [after.ts, after.order_id]
        return self._all(
            f"SELECT {_ROW_COLUMNS} FROM {source} {_WITH_CONTEXT} {_LATEST_DECISION} "
            f"{_where(conditions)} ORDER BY r.ts DESC, r.order_id DESC LIMIT ?",
            [*params, limit + 1],
        )

    def _few_decided(self, limit: int) -> bool:
        """Whether a page of decided orders is read faster from the decided orders (sorting them
        all) than from the newest-first index (reading about limit * recommendations / decided
        rows to meet `limit` decided ones): with fewer than sqrt(limit * recommendations)."""
        recommendations, decided = self._held()
        return decided * decided <= limit * recommendations

    def _total(self, filters: ListFilters, conditions: list[str], params: list[Any]) -> int:
        """How many recommendations match `filters` (`conditions` say it in SQL)."""
        if filters.search.strip():
            return int(
                self._scalar(
                    f"SELECT count(*) FROM {RECOMMENDATIONS} r {_where(conditions)}", params
                )
            )
        keyed, key_params = _class_location_sql(filters, "")
        held = int(
            self._scalar(
                f"SELECT coalesce(sum(recommendations), 0) FROM {RECOMMENDATION_COUNTS} "
                f"{_where(keyed)}",
                key_params,
            )
        )
        if filters.status is None:
            return held
        decided = self._decided_among(filters, held)
        return decided if filters.status == "applied" else held - decided

    def _decided_among(self, filters: ListFilters, matching: int) -> int:
        """How many decided orders match the class and location filters, `matching` of the
        recommendations doing so: counted from whichever side costs less. A decided order costs
        a lookup of its recommendation, about three times a matching row read from an index
        (SQLite, a million rows)."""
        conditions, params = _class_location_sql(filters, "r.")
        decided = self._held()[1]
        if not conditions:
            return decided  # every decided order has a recommendation
        if 3 * decided <= matching:
            source = _FROM_DECIDED
            conditions = [_DECIDED_JOIN, *conditions]
        else:
            source = f"{RECOMMENDATIONS} r"
            conditions = [*conditions, _HAS_DECISION]
        return int(self._scalar(f"SELECT count(*) FROM {source} {_where(conditions)}", params))

    @_guarded
    def order_detail(self, order_id: str) -> OrderDetail | None:
        with self.backend.read_snapshot(self._conn):
            row = self._one(
                f"SELECT {_ROW_COLUMNS}, r.agent_response, c.location_title, c.created_ts, "
                "c.delivery_minutes, c.p50, c.p75, c.p99, c.events, c.items, c.route "
                f"FROM {RECOMMENDATIONS} r {_WITH_CONTEXT} {_LATEST_DECISION} WHERE r.order_id = ?",
                [order_id],
            )
            if row is None:
                return None
            history = self._all(
                f"SELECT {_DECISION_COLUMNS} FROM {DECISIONS} d WHERE d.order_id = ? ORDER BY d.id DESC",
                [order_id],
            )
        agent_response, title, created, minutes, p50, p75, p99, events, items, route = row[17:]
        return OrderDetail(
            recommendation=self._recommendation(row[:17]),
            agent_response=agent_response,
            location_title=title,
            created_ts=self.backend.timestamp(created),
            delivery_minutes=minutes,
            p50=p50,
            p75=p75,
            p99=p99,
            events=parse_timeline(events),
            items=parse_basket(items),
            route=parse_route(route),
            decisions=tuple(self._decision(decision) for decision in history),
        )

    @_guarded
    def decisions(self) -> list[Decision]:
        """Every decision ever written, oldest first."""
        rows = self._all(f"SELECT {_DECISION_COLUMNS} FROM {DECISIONS} d ORDER BY d.id")
        return [self._decision(row) for row in rows]

    def health(self) -> dict[str, Any]:
        """Whether the store answers, how fast, and what it holds; never raises."""
        report: dict[str, Any] = {"backend": self.backend.name, "location": self.backend.describe()}
        started = time.perf_counter()
        try:
            recommendations, decisions, last_sync = self._health_counts()
        except StoreError as exc:
            return {**report, "ok": False, "error": str(exc)}
        return {
            **report,
            "ok": True,
            "latency_ms": round((time.perf_counter() - started) * 1000, 1),
            "recommendations": recommendations,
            "decisions": decisions,
            "last_sync_ts": last_sync.isoformat(sep=" ") if last_sync else None,
        }

    @_guarded
    def _health_counts(self) -> tuple[int, int, datetime | None]:
        row = self._one(
            f"SELECT (SELECT coalesce(sum(recommendations), 0) FROM {RECOMMENDATION_COUNTS}), "
            f"(SELECT count(*) FROM {DECISIONS}), "
            f"(SELECT synced_ts FROM {RECOMMENDATIONS} ORDER BY sync_batch DESC LIMIT 1)"
        )
        assert row is not None
        return int(row[0]), int(row[1]), self.backend.timestamp(row[2])

    # --- deciding ---------------------------------------------------------------------------

    @_guarded
    def apply_decision(
        self, draft: DecisionDraft, *, expected: Suggestion | None = None
    ) -> Decision:
        """Record a decision. With `expected`, refuse if the suggestion is no longer the one the
        reviewer accepted (a sync replaced it meanwhile)."""
        # Checked before the order is looked up too: an order id one backend cannot take (a NUL)
        # must be refused as on the other, not end as a driver error.
        check_draft(draft, None)
        with self.backend.write_transaction(self._conn, DECISIONS):
            current = self._one(
                f"SELECT {_SUGGESTION_COLUMNS}, c.order_total, d.refund_class, d.amount_usd "
                f"FROM {RECOMMENDATIONS} r {_WITH_CONTEXT} {_LATEST_DECISION} WHERE r.order_id = ?",
                [draft.order_id],
            )
            if current is None:
                raise InvalidDecision("order_id", f"No recommendation for order {draft.order_id}.")
            refund_class, usd, reason, error, model_version, ts, agent_response, total = current[:8]
            latest_class, latest_amount = current[8:]
            suggestion = Suggestion(refund_class, _cents(usd), reason, error)
            if expected is not None and suggestion != expected:
                raise StaleSuggestion(
                    f"The suggestion for order {draft.order_id} changed since it was shown."
                )
            check_draft(draft, _cents(total))
            source = _source_suggestion(
                suggestion, model_version, self.backend.timestamp(ts), agent_response
            )
            decided_ts = self._clock()
            decision_id = self._scalar(
                f"{_INSERT_DECISION} RETURNING id",
                [
                    draft.order_id,
                    decided_ts,
                    draft.amount_usd,
                    draft.refund_class,
                    draft.reason,
                    draft.decided_by,
                    self.backend.json_param(source),
                ],
            )
            # the order now counts by this decision, no longer by the one it replaces
            tally = _Tally()
            tally.add((draft.refund_class,), 1, _cent_count(draft.amount_usd))
            if latest_class is not None:
                tally.add((latest_class,), -1, -_cent_count(latest_amount))
            self._add_counts(DECISION_COUNTS, _DECISION_KEY, _DECISION_FIGURES, tally)
        return Decision(
            id=int(decision_id),
            order_id=draft.order_id,
            decided_ts=decided_ts,
            amount_usd=draft.amount_usd,
            refund_class=draft.refund_class,
            reason=draft.reason,
            decided_by=draft.decided_by,
            source_suggestion=source,
        )

    @_guarded
    def bulk_accept_preview(self, filters: ListFilters) -> BulkAcceptPreview:
        if filters.status == "applied":
            return BulkAcceptPreview(accepted=0, accepted_usd=Decimal("0.00"), skipped=0)
        conditions, params = _filter_sql(replace(filters, status="pending"), self.backend)
        row = self._one(
            f"SELECT count(*), sum(CASE WHEN {_ACCEPTABLE} THEN 1 ELSE 0 END), "
            f"sum(CASE WHEN {_ACCEPTABLE} THEN r.suggested_usd END) "
            f"FROM {RECOMMENDATIONS} r {_WITH_CONTEXT} {_where(conditions)}",
            params,
        )
        assert row is not None
        pending, accepted, accepted_usd = int(row[0]), int(row[1] or 0), row[2]
        return BulkAcceptPreview(
            accepted=accepted,
            accepted_usd=to_cents(accepted_usd or 0),
            skipped=pending - accepted,
        )

    @_guarded
    def bulk_accept(self, filters: ListFilters, decided_by: str) -> int:
        """Accept every pending, acceptable suggestion matching `filters`, in one transaction."""
        check_decided_by(decided_by)
        if filters.status == "applied":
            return 0
        conditions, params = _filter_sql(replace(filters, status="pending"), self.backend)
        with self.backend.write_transaction(self._conn, DECISIONS):
            decided_before = self._held()[1]
            candidates = self._all(
                f"SELECT r.order_id, {_SUGGESTION_COLUMNS} FROM {RECOMMENDATIONS} r {_WITH_CONTEXT} "
                f"{_where([*conditions, _ACCEPTABLE])}",
                params,
            )
            decided_ts = self._clock()
            rows = []
            for (
                order_id,
                refund_class,
                usd,
                reason,
                error,
                model_version,
                ts,
                response,
            ) in candidates:
                suggestion = Suggestion(refund_class, _cents(usd), reason, error)
                source = _source_suggestion(
                    suggestion, model_version, self.backend.timestamp(ts), response
                )
                rows.append(
                    (
                        order_id,
                        decided_ts,
                        suggestion.refund_usd,
                        refund_class,
                        reason,
                        decided_by,
                        self.backend.json_param(source),
                    )
                )
            self.backend.executemany(self._conn, self.backend.sql(_INSERT_DECISION), rows)
            tally = _Tally()  # every candidate was pending: each order is counted anew
            for _, _, amount, refund_class, *_rest in rows:
                tally.add((refund_class,), 1, _cent_count(amount))
            self._add_counts(DECISION_COUNTS, _DECISION_KEY, _DECISION_FIGURES, tally)
        self._refresh_statistics_if_grown(DECISIONS, len(rows), decided_before)
        return len(rows)

    # --- syncing ----------------------------------------------------------------------------

    def _upsert_sql(
        self, table: str, stage: str, columns: Sequence[str], compared: Sequence[str]
    ) -> str:
        names = ", ".join(columns)
        updates = ", ".join(f"{column} = excluded.{column}" for column in columns[1:])
        changed = " OR ".join(
            f"t.{column} {self.backend.distinct_from} excluded.{column}" for column in compared
        )
        # `WHERE true` tells SQLite's parser the ON CONFLICT is the upsert's, not a join's.
        return (
            f"INSERT INTO {table} AS t ({names}) SELECT {names} FROM {stage} WHERE true "
            f"ON CONFLICT (order_id) DO UPDATE SET {updates} WHERE {changed}"
        )

    @_guarded
    def upsert_synced(
        self, recommendations: Sequence[tuple], context: Sequence[tuple]
    ) -> tuple[int, int]:
        """Write synced rows (see `casper.appstore.sync`); returns (upserted, unchanged)
        recommendations. Only rows that differ are written, so a repeat sync changes nothing."""
        conn = self._conn
        with self.backend.write_transaction(conn, RECOMMENDATIONS):
            if context:
                self.backend.create_stage(conn, "stage_context", CONTEXT)
                self.backend.load_stage(conn, "stage_context", CONTEXT_COLUMNS, context)
                conn.execute(
                    self._upsert_sql(CONTEXT, "stage_context", CONTEXT_COLUMNS, CONTEXT_COLUMNS[1:])
                )
                self.backend.drop_stage(conn, "stage_context")
            if not recommendations:
                return 0, 0
            held_before = self._held()[0]
            batch = self._scalar(f"SELECT coalesce(max(sync_batch), 0) + 1 FROM {RECOMMENDATIONS}")
            synced_ts = self._clock()
            self.backend.create_stage(conn, "stage_recommendations", RECOMMENDATIONS)
            self.backend.load_stage(
                conn,
                "stage_recommendations",
                RECOMMENDATION_COLUMNS,
                (row + (batch, synced_ts) for row in recommendations),
            )
            differs = " OR ".join(
                f"t.{column} {self.backend.distinct_from} s.{column}"
                for column in RECOMMENDATION_SOURCE_COLUMNS
            )
            # What the upsert below will write, grouped by what it adds to the counts and what it
            # takes from them (a replaced row's old class and location): the same condition.
            writes = self._all(
                "SELECT s.suggested_class, s.location, t.suggested_class, t.location, count(*), "
                f"sum({_cents_sql('s.suggested_usd')}), sum({_cents_sql('t.suggested_usd')}) "
                f"FROM stage_recommendations s LEFT JOIN {RECOMMENDATIONS} t "
                f"ON t.order_id = s.order_id WHERE t.order_id IS NULL OR {differs} "
                "GROUP BY s.suggested_class, s.location, t.suggested_class, t.location"
            )
            tally = _Tally()
            for new_class, new_location, old_class, old_location, count, new, old in writes:
                tally.add((new_class, new_location), int(count), int(new or 0))
                if old_class is not None:  # replaced, not inserted
                    tally.add((old_class, old_location), -int(count), -int(old or 0))
            upserted = sum(int(write[4]) for write in writes)
            conn.execute(
                self._upsert_sql(
                    RECOMMENDATIONS,
                    "stage_recommendations",
                    RECOMMENDATION_COLUMNS,
                    RECOMMENDATION_SOURCE_COLUMNS,
                )
            )
            self.backend.drop_stage(conn, "stage_recommendations")
            self._add_counts(
                RECOMMENDATION_COUNTS, _RECOMMENDATION_KEY, _RECOMMENDATION_FIGURES, tally
            )
        self._refresh_statistics_if_grown(RECOMMENDATIONS, upserted, held_before)
        return upserted, len(recommendations) - upserted

    def _refresh_statistics_if_grown(self, table: str, written: int, before: int) -> None:
        """After a write of `written` rows to a table that held about `before`: what autovacuum
        would see to after its nap (by its default rule, 50 rows and a tenth of the table), now,
        so the list's next query is planned on the rows it will meet."""
        if written > 50 + before // 10:
            self.backend.refresh_statistics(self._conn, table)


def backend_for(
    home: CasperHome, dsn: str | None, password: Callable[[], str] | None = None
) -> Backend:
    if dsn is None:
        return SqliteBackend(home.root / "appstore")
    # A libpq URL, or its key=value form.
    if dsn.startswith(("postgresql://", "postgres://")) or "=" in dsn:
        return PostgresBackend(dsn, password)
    # Not echoed: a mistyped DSN may still carry a password.
    raise StoreError("--app-store takes a PostgreSQL DSN: postgresql://user@host:port/dbname")


def without_password(dsn: str) -> str:
    """The DSN minus its password (what may be written down: a manifest, a log line)."""
    import psycopg
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    try:
        fields = conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        raise StoreError(
            "the app store DSN cannot be parsed (not echoed: it may hold a password)"
        ) from None
    fields.pop("password", None)
    return make_conninfo(**{key: str(value) for key, value in fields.items()})


def open_store(
    home: CasperHome,
    dsn: str | None = None,
    *,
    password: Callable[[], str] | None = None,
    clock: Callable[[], datetime] = utc_now,
) -> AppStore:
    """The embedded store under `home.root / "appstore"`, or PostgreSQL by DSN; schema ensured.
    `password`, if given, is asked for a fresh password on every connection."""
    store = AppStore(backend_for(home, dsn, password), clock=clock)
    try:
        store.ensure_schema()
    except BaseException:
        store.close()
        raise
    return store


def store_counts(home: CasperHome, dsn: str | None = None) -> dict[str, int]:
    """`casper status` figures, without creating an embedded store that does not exist yet."""
    if not backend_for(home, dsn).exists():
        return {"decisions": 0, "pending": 0}
    with open_store(home, dsn) as store:
        return store.counts()


def drop_app_store(dsn: str) -> list[str]:
    """Drop the app store's schemas from a PostgreSQL database (what `casper down` undoes there).
    A failure is one line saying which schemas, where and why, never with the password."""
    import psycopg

    from casper.appstore.backends import SCHEMAS

    # without_password first: a DSN libpq cannot parse is refused without echoing it
    where = PostgresBackend(without_password(dsn)).describe()
    try:
        with psycopg.connect(dsn, connect_timeout=10) as connection:
            for schema in SCHEMAS:
                connection.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    except psycopg.Error as exc:
        raise StoreError(
            f"cannot drop the app store's PostgreSQL schemas {', '.join(SCHEMAS)} at {where}: "
            f"{driver_message(exc)}"
        ) from None
    return [f"PostgreSQL schema {schema}" for schema in SCHEMAS]
