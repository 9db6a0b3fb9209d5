"""Live generation stops and resumes without losing or duplicating an event, even after kill -9."""

from __future__ import annotations

import datetime as dt
import itertools
import shutil
import signal
import threading
import time
from pathlib import Path

import pytest

from casper.generator.events import empty_events
from casper.generator.plan import load_plan, save_plan
from casper.generator.runs import plan_history, run_live
from casper.generator.simulation import to_us
from casper.generator.stream import PacedStream, Position, StreamProgress, run_streams
from casper.home import CasperHome
from engines.local import LocalLander
from tests.cli_helpers import NOW, casper, casper_popen, landed_events, landed_lines
from tests.engine_helpers import engine_for

UNTIL = (dt.datetime.fromisoformat(NOW) + dt.timedelta(hours=8)).isoformat()


@pytest.fixture(scope="module")
def history_home(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("history")
    casper(home, "generate", "--now", NOW, "--days", "1", "--locations", "sanfrancisco,chicago")
    return home


def _copy(home: Path, tmp_path: Path, name: str) -> Path:
    target = tmp_path / name
    shutil.copytree(home, target)
    return target


def _wait_for_live_files(home: Path, at_least: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(list((home / "landing").glob("live-*.ndjson"))) >= at_least:
            return
        time.sleep(0.05)
    raise AssertionError("live never landed a file")


@pytest.mark.slow
def test_kill_9_then_resume_lands_exactly_what_an_uninterrupted_run_lands(history_home, tmp_path):
    whole = _copy(history_home, tmp_path, "whole")
    casper(whole, "live", "--speed", "20000", "--until", UNTIL, "--batch-rows", "20")
    expected = sorted(landed_lines(whole, "live-"))
    assert len(expected) > 500

    broken = _copy(history_home, tmp_path, "broken")
    for _ in range(2):  # killed twice, at different points
        process = casper_popen(
            broken, "live", "--speed", "1500", "--until", UNTIL, "--batch-rows", "20"
        )
        _wait_for_live_files(broken, at_least=len(list((broken / "landing").glob("live-*"))) + 3)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    partial = landed_lines(broken, "live-")
    assert 0 < len(partial) < len(expected)

    casper(broken, "live", "--speed", "20000", "--until", UNTIL, "--batch-rows", "20")
    resumed = landed_lines(broken, "live-")
    assert sorted(resumed) == expected
    ids = [e["event_id"] for e in landed_events(broken, "live-")]
    assert len(ids) == len(set(ids))


@pytest.mark.slow
def test_ctrl_c_stops_cleanly_and_history_plus_live_has_whole_orders(history_home, tmp_path):
    home = _copy(history_home, tmp_path, "sigint")
    process = casper_popen(home, "live", "--speed", "2000", "--until", UNTIL, "--batch-rows", "10")
    _wait_for_live_files(home, at_least=4)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert "resumes after" in stdout

    events = landed_events(home)
    keys = [(e["order_id"], e["sequence"]) for e in events]
    assert len(keys) == len(set(keys)), "an event landed twice across history and live"
    by_order: dict[str, list[int]] = {}
    for event in events:
        by_order.setdefault(event["order_id"], []).append(event["sequence"])
    # history and live meet at `now` without a seam: no order shows up without its creation
    orphans = [order for order, sequences in by_order.items() if 0 not in sequences]
    assert orphans == []


# -- --sim-minutes: where a bounded run ends ----------------------------------------------------------

SIM_MINUTES = 30.0


@pytest.fixture(scope="module")
def planned_home(tmp_path_factory) -> Path:
    """A simulation plan for one location and its route cache, no history: what live needs."""
    home = CasperHome(tmp_path_factory.mktemp("planned")).ensure()
    plan = plan_history(home, locations="sanfrancisco", now=NOW, days=1)
    save_plan(home.generator, plan)
    _bounded_live(home.root)  # builds the route cache once; the copies below reuse it
    shutil.rmtree(home.landing)
    for checkpoint in home.generator.glob("live*.json"):
        checkpoint.unlink()
    return home.root


def _bounded_live(root: Path, on_flush=None) -> list[PacedStream]:
    """`casper live --sim-minutes 30` in this process, at two simulated hours per second of a
    clock that ticks 0.05 s per look (its pace does not depend on how busy the machine is)."""
    home = CasperHome(root)
    ticks = itertools.count()
    return run_live(
        engine_for(home),
        load_plan(home.generator),
        threading.Event(),
        speed=7200,
        sim_minutes=SIM_MINUTES,
        batch_rows=5,
        batch_seconds=60,
        on_flush=on_flush,
        clock=lambda: 0.05 * next(ticks),
    )


def _ends(streams: list[PacedStream]) -> list[tuple[str, int, Position]]:
    return [(s.prefix, s.clock_us, s.position) for s in streams]


class _Killed(Exception):
    """Stands for kill -9 after a batch landed: the run ends without finishing."""


def _killed_after_a_file(progress: StreamProgress) -> None:
    if progress.files:
        raise _Killed


def test_a_bounded_live_run_restarted_after_a_kill_ends_where_an_uninterrupted_one_does(
    planned_home, tmp_path
):
    whole = _copy(planned_home, tmp_path, "whole")
    uninterrupted = _ends(_bounded_live(whole))

    broken = _copy(planned_home, tmp_path, "broken")
    with pytest.raises(_Killed):
        _bounded_live(broken, on_flush=_killed_after_a_file)
    assert 0 < len(landed_lines(broken, "live-")) < len(landed_lines(whole, "live-"))
    restarted = _ends(_bounded_live(broken))

    assert restarted == uninterrupted
    assert sorted(landed_lines(broken, "live-")) == sorted(landed_lines(whole, "live-"))


def test_a_bounded_live_run_after_one_that_ended_runs_its_own_minutes(planned_home, tmp_path):
    home = _copy(planned_home, tmp_path, "twice")
    [(_, first_end, _)] = _ends(_bounded_live(home))
    [(_, second_end, _)] = _ends(_bounded_live(home))
    assert second_end - first_end == SIM_MINUTES * 60_000_000


class _ListSource:
    def __init__(self, events):
        self.events = events

    def window(self, after: Position, until_us: int):
        import polars as pl

        from casper.generator.stream import after_position

        return self.events.filter(after_position(after) & (pl.col("ts_us") <= until_us))

    def end_us(self) -> int:
        return int(self.events["ts_us"].max())


def _events(count: int):
    import polars as pl

    base = to_us(dt.datetime(2026, 1, 1))
    return pl.DataFrame(
        {
            "event_id": [f"e{i:04d}" for i in range(count)],
            "event_type": ["gk_started"] * count,
            "ts": [
                str(dt.datetime(2026, 1, 1) + dt.timedelta(seconds=i // 2)) + ".000000"
                for i in range(count)
            ],
            "gk_id": ["gk"] * count,
            "location": ["x"] * count,
            "order_id": [f"o{i:04d}" for i in range(count)],
            "sequence": [1] * count,
            "body": ["{}"] * count,
            "ts_us": [base + (i // 2) * 1_000_000 for i in range(count)],
        },
        schema=empty_events().schema,
    )


def _stream(tmp_path: Path, events) -> PacedStream:
    return PacedStream(
        prefix="test",
        source=_ListSource(events),
        lander=LocalLander(tmp_path / "landing"),
        checkpoint_path=tmp_path / "test.json",
        start=Position.before(int(events["ts_us"].min())),
        speed=1e9,
        batch_rows=7,
        batch_seconds=60,
    )


def test_a_file_landed_after_the_last_checkpoint_is_not_landed_again(tmp_path):
    import threading

    events = _events(50)
    first = _stream(tmp_path, events)
    first.advance(int(events["ts_us"][20]))
    first.flush(everything=False)
    saved = (tmp_path / "test.json").read_text()
    first.advance(int(events["ts_us"][40]))
    first.flush(everything=False)
    # simulate a kill after the rename but before the checkpoint: the checkpoint is an older one
    (tmp_path / "test.json").write_text(saved)

    second = _stream(tmp_path, events)
    assert second.files == first.files
    run_streams([second], stop=threading.Event())
    landed = landed_events(tmp_path)
    assert [e["event_id"] for e in landed] == events["event_id"].to_list()


def test_temporaries_of_a_killed_writer_are_swept(tmp_path):
    lander = LocalLander(tmp_path)
    (tmp_path / ".live-x-000000001.ndjson.123.tmp").write_text("half a fi")
    lander.land("a.ndjson", b"{}\n")
    assert lander.sweep() == 1
    assert [landed.name for landed in lander.list()] == ["a.ndjson"]


def test_a_lander_lists_only_landing_files(tmp_path):
    lander = LocalLander(tmp_path)
    for name in ("b.jsonl", "a.ndjson", "c.json", "notes.txt", ".hidden.ndjson", "d.ndjson.bak"):
        (tmp_path / name).write_bytes(b"{}\n")
    (tmp_path / "folder.ndjson").mkdir()
    listed = lander.list()
    assert [landed.name for landed in listed] == ["a.ndjson", "b.jsonl", "c.json"]
    assert all(landed.size == 3 and landed.modified_ns > 0 for landed in listed)
    # the rest is named (not the hidden file: a writer's temporary), folders with a "/"
    survey = lander.survey()
    assert list(survey.files) == listed
    assert survey.ignored == ("d.ndjson.bak", "folder.ndjson/", "notes.txt")
