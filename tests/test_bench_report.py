"""The benchmarks' one report format: targets are judged from the figure and its floor, a missed
target is a "NO" in the table, and figures gathered from several benchmarks come back as they went."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

from report import REPORT_FILE, Figure, read_report, report, table  # noqa: E402


def test_a_ratio_target_is_judged_against_the_floor_and_a_limit_against_the_figure():
    generation = Figure("generate", 3.6, "s", floor=1.2, max_ratio=2.5)
    assert generation.ratio == 3.6 / 1.2 and generation.met is False
    assert Figure("generate", 2.9, "s", floor=1.2, max_ratio=2.5).met is True
    assert Figure("tick", 0.8, "s", limit=1).met is True
    assert Figure("tick", 1.2, "s", limit=1).met is False
    both = Figure("build", 10.0, "s", floor=4.0, max_ratio=3, limit=9)
    assert both.met is False and both.target == "<= 3x floor, <= 9 s"
    context = Figure("routing", 0.5, "us", floor=12_000.0)
    assert context.met is None and context.target == "-"
    assert Figure("nothing to compare", 1.0, "s", floor=0.0).ratio is None


def test_the_table_marks_missed_targets_and_shows_floor_and_ratio():
    lines = table(
        [
            Figure("generate", 3.6, "s", floor=1.2, max_ratio=2.5),
            Figure("status", 0.4, "s", limit=1, note="median of 5"),
        ]
    ).splitlines()
    assert lines[0].split() == ["measure", "figure", "floor", "ratio", "target", "met"]
    assert lines[2].split()[-1] == "NO" and "3.00x" in lines[2] and "1.20 s" in lines[2]
    assert lines[3].endswith("yes") and "status (median of 5)" in lines[3]


def test_figures_reported_by_several_benchmarks_are_read_back(tmp_path, monkeypatch, capsys):
    gathered = tmp_path / "figures.jsonl"
    monkeypatch.setenv(REPORT_FILE, str(gathered))
    first = [Figure("generate", 3.6, "s", floor=1.2, max_ratio=2.5)]
    second = [Figure("tick", 0.8, "s", limit=1), Figure("peak", 0.9, "GiB", limit=1)]
    report(first)
    report(second)
    assert read_report(gathered) == first + second
    assert "generate" in capsys.readouterr().out
    assert read_report(tmp_path / "absent.jsonl") == []
