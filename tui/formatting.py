"""How store values read on screen: amounts, times, classes, and the delivery gauge."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal

from rich.text import Text

from casper.appstore import Decision, Suggestion

DASH = "—"


def money(amount: Decimal | None) -> str:
    return DASH if amount is None else f"{amount:,.2f}"


def when(moment: datetime | None) -> str:
    return DASH if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S")


def class_styles(theme: Mapping[str, str]) -> dict[str, str]:
    """Colours from the current Textual theme, so light and dark both read well."""
    return {
        "none": theme["success"],
        "partial": theme["warning"],
        "full": theme["error"],
        "error": f"bold reverse {theme['error']}",
    }


def refund_class(name: str, styles: Mapping[str, str]) -> Text:
    return Text(name, style=styles.get(name, ""))


def suggestion_amount(suggestion: Suggestion) -> Text:
    return Text(money(suggestion.refund_usd), justify="right")


def decision_label(decision: Decision | None, styles: Mapping[str, str]) -> Text:
    if decision is None:
        return Text(DASH)
    return Text.assemble(
        refund_class(decision.refund_class, styles), f" {money(decision.amount_usd)}"
    )


def delivery_verdict(minutes: float, p75: float, p99: float) -> str:
    if minutes <= p75:
        return "on time: within the location's P75"
    if minutes <= p99:
        return f"late: {minutes - p75:.1f} min past P75"
    return f"very late: {minutes - p99:.1f} min past P99"


def delivery_gauge(minutes: float, percentiles: Mapping[str, float], width: int) -> tuple[str, str]:
    """A bar as long as the delivery took, and under it each percentile's label at its place."""
    top = max([minutes, *percentiles.values()]) * 1.1 or 1.0

    def column(value: float) -> int:
        return min(width - 1, round(value / top * (width - 1)))

    filled = column(minutes) + 1
    bar = "█" * filled + "░" * (width - filled)
    marks = [
        (f"▲{name}", column(value))
        for name, value in sorted(percentiles.items(), key=lambda item: item[1])
    ]
    # Each label at its percentile, pushed right past its left neighbour, then pulled back left
    # where it would run off the end; close percentiles stay readable side by side.
    starts, free_from = [], 0
    for label, at in marks:
        starts.append(max(at, free_from))
        free_from = starts[-1] + len(label) + 1
    limit = width
    for index in reversed(range(len(marks))):
        starts[index] = max(0, min(starts[index], limit - len(marks[index][0])))
        limit = starts[index] - 1
    labels = [" "] * width
    for (label, _), start in zip(marks, starts, strict=True):
        for offset, character in enumerate(label[: width - start]):
            labels[start + offset] = character
    return bar, "".join(labels).rstrip()
