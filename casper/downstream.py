"""What follows a pipeline tick in watch mode: score new deliveries, then sync them to the app store.

Kept in one process with the pipeline, so a delivered order gets its recommendation (and shows in
the review app) within a tick or two of landing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from casper.engine import Engine
from casper.refunds.registry import NoChampionError
from casper.refunds.service import ChampionScorer


@dataclass(frozen=True)
class DownstreamReport:
    scored: int
    synced: int
    model_version: str | None


class Downstream:
    def __init__(self, engine: Engine, notify: Callable[[str], None] | None = None) -> None:
        self.engine = engine
        self.notify = notify
        self.scorer = ChampionScorer(engine)
        self._warned = False

    def run(self) -> DownstreamReport:
        from casper.reverse_etl import sync_to_store

        scored, version = 0, None
        try:
            report = self.scorer.score_pending()
            scored, version = report.scored, report.version
        except NoChampionError as exc:
            if not self._warned and self.notify:
                self.notify(str(exc))
            self._warned = True
        with self.engine.open_app_store() as store:
            synced = sync_to_store(self.engine, store).upserted
        return DownstreamReport(scored=scored, synced=synced, model_version=version)
