"""`casper demo`: the whole business running while a manager reviews refunds.

After `up`, three loops share one process: live order generation, the pipeline watch (which also
scores and syncs), and the review app in the foreground. Quitting the app stops the others cleanly;
running the demo again resumes where it stopped (the generator and the pipeline are checkpointed).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from casper.engine import Engine


@dataclass
class BackgroundLoops:
    """Live generation and the pipeline watch, on threads, stopped by one event."""

    engine: Engine
    speed: float
    every: float
    stop: threading.Event = field(default_factory=threading.Event)
    errors: list[str] = field(default_factory=list)
    threads: list[threading.Thread] = field(default_factory=list)

    def _guard(self, name: str, body: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                body()
            except Exception as exc:  # noqa: BLE001 - reported once the app has closed
                self.errors.append(f"{name} stopped: {exc}")

        return run

    def _live(self) -> None:
        from casper.generator.plan import load_plan
        from casper.generator.runs import run_live

        plan = load_plan(self.engine.home.generator)
        if plan is not None:
            run_live(self.engine, plan, self.stop, speed=self.speed)

    def _pipeline(self) -> None:
        from casper.downstream import Downstream
        from casper.pipeline import watch_pipeline

        downstream = Downstream(self.engine, notify=self.errors.append)
        watch_pipeline(
            self.engine,
            self.every,
            self.stop,
            on_tick=lambda report: downstream.run(),
            on_error=lambda exc: self.errors.append(f"pipeline tick failed: {exc}"),
        )

    def start(self) -> BackgroundLoops:
        for name, body in (("live generator", self._live), ("pipeline", self._pipeline)):
            thread = threading.Thread(target=self._guard(name, body), name=name, daemon=True)
            thread.start()
            self.threads.append(thread)
        return self

    def close(self, timeout: float = 60.0) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout)
