"""Reading the refund model's `agent_response` without trusting it.

The scorer writes `{"refund_usd": float, "refund_class": "none"|"partial"|"full", "reason": str}` as a
string. Anything else (not JSON, an unknown class, a negative or non-numeric amount, a NUL or a lone
surrogate that not both backends can store) becomes an `error` suggestion that carries the reason it
was rejected, so a bad row is shown and never crashes a reader.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from casper.appstore.text import text_problem
from casper.refunds import REFUND_CLASSES

ERROR_CLASS = "error"
SUGGESTION_CLASSES = (*REFUND_CLASSES, ERROR_CLASS)

CENT = Decimal("0.01")
# numeric(10, 2), the reference's amount type, holds at most 99,999,999.99.
MAX_AMOUNT = Decimal("99999999.99")


@dataclass(frozen=True)
class Suggestion:
    """What the model suggested for one order; `refund_usd` is None only for an error."""

    refund_class: str
    refund_usd: Decimal | None
    reason: str
    error: str | None = None

    @property
    def is_error(self) -> bool:
        return self.refund_class == ERROR_CLASS


def error_suggestion(problem: str) -> Suggestion:
    return Suggestion(refund_class=ERROR_CLASS, refund_usd=None, reason="", error=problem)


def to_cents(value: float | Decimal) -> Decimal:
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


def text_error(value: str, name: str) -> Suggestion | None:
    """An error suggestion if `value` is not text both backends store alike (see
    `casper.appstore.text`), else None."""
    problem = text_problem(value, name)
    return None if problem is None else error_suggestion(problem.removesuffix("."))


def parse_agent_response(text: str | None) -> Suggestion:
    unstorable = text_error(text, "agent_response") if isinstance(text, str) else None
    if unstorable is not None:
        return unstorable
    try:
        document = json.loads(text) if text is not None else None
    except (TypeError, ValueError):
        return error_suggestion("agent_response is not valid JSON")
    if not isinstance(document, dict):
        return error_suggestion("agent_response is not a JSON object")

    refund_class = document.get("refund_class")
    if refund_class not in REFUND_CLASSES:
        return error_suggestion(f"unknown refund_class {refund_class!r}")

    amount = document.get("refund_usd")
    # bool is an int subclass; `true` is not an amount.
    if isinstance(amount, bool) or not isinstance(amount, int | float) or not math.isfinite(amount):
        return error_suggestion(f"refund_usd {amount!r} is not a number")
    if amount < 0:
        return error_suggestion(f"refund_usd {amount!r} is negative")
    cents = to_cents(amount)
    if cents > MAX_AMOUNT:
        return error_suggestion(f"refund_usd {amount!r} is too large")

    reason = document.get("reason")
    reason = reason if isinstance(reason, str) else ""
    # a JSON escape ("\u0000", "\ud800") is ASCII in the response, and not text once read
    unstorable = text_error(reason, "reason")
    if unstorable is not None:
        return unstorable
    return Suggestion(refund_class=refund_class, refund_usd=cents, reason=reason)
