"""The rules a refund decision obeys, checked before anything is written.

The form checks them to show a message next to the field; the store checks them again inside its
transaction, against the order total it holds, so no path writes an invalid decision. They are also
what makes both backends take the same input: whatever one of them could not store is refused here,
with the same message, before either is asked.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from casper.appstore.suggestion import MAX_AMOUNT, REFUND_CLASSES, Suggestion
from casper.appstore.text import text_problem
from casper.errors import CasperError

DENY_REASON = "Denied by the reviewer."


class InvalidDecision(CasperError):
    """A decision the rules reject; `field` names the form field to show it on."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class DecisionDraft:
    """A decision that passed validation and is ready to be written."""

    order_id: str
    amount_usd: Decimal
    refund_class: str
    reason: str
    decided_by: str


def check_text(value: object, field: str, label: str) -> str:
    """Text both backends store alike (see `casper.appstore.text`), else an InvalidDecision
    naming the field."""
    if not isinstance(value, str):
        raise InvalidDecision(field, f"{label} must be text, not {type(value).__name__}.")
    problem = text_problem(value, label)
    if problem is not None:
        raise InvalidDecision(field, problem)
    return value


def check_required_text(value: object, field: str, label: str, missing: str) -> str:
    if value is None:
        raise InvalidDecision(field, missing)
    text = check_text(value, field, label)
    if not text.strip():
        raise InvalidDecision(field, missing)
    return text


def check_decided_by(decided_by: object) -> str:
    return check_required_text(decided_by, "decided_by", "Decided by", "Decided by is required.")


def check_amount(amount: object, order_total: Decimal | None) -> Decimal:
    # Only a Decimal: a float cannot hold every cent exactly, and text is parse_amount's to read.
    if not isinstance(amount, Decimal):
        raise InvalidDecision(
            "amount_usd", f"Amount must be a Decimal, not {type(amount).__name__}."
        )
    if not amount.is_finite():
        raise InvalidDecision("amount_usd", "Amount must be a number.")
    if amount < 0:
        raise InvalidDecision("amount_usd", "Amount cannot be negative.")
    if amount != amount.quantize(Decimal("0.01")):
        raise InvalidDecision("amount_usd", "Amount has at most two decimals.")
    if amount > MAX_AMOUNT:
        raise InvalidDecision("amount_usd", "Amount is too large.")
    if order_total is not None and amount > order_total:
        raise InvalidDecision(
            "amount_usd", f"Amount cannot exceed the order total (USD {order_total:,.2f})."
        )
    return amount


def parse_amount(text: str, order_total: Decimal | None) -> Decimal:
    try:
        amount = Decimal(text.strip())
    except InvalidOperation:
        raise InvalidDecision("amount_usd", "Amount must be a number.") from None
    return check_amount(amount, order_total)


def check_draft(draft: DecisionDraft, order_total: Decimal | None) -> DecisionDraft:
    check_text(draft.order_id, "order_id", "Order id")
    check_amount(draft.amount_usd, order_total)
    if draft.refund_class not in REFUND_CLASSES:
        raise InvalidDecision("refund_class", "Class must be none, partial or full.")
    check_required_text(draft.reason, "reason", "Reason", "A reason is required.")
    check_decided_by(draft.decided_by)
    return draft


def validate_decision(
    *,
    order_id: str,
    amount_text: str,
    refund_class: str,
    reason: str,
    decided_by: str,
    order_total: Decimal | None,
) -> DecisionDraft:
    """Turn what a reviewer typed into a draft; text is kept verbatim, never trimmed or escaped."""
    amount = parse_amount(amount_text, order_total)
    return check_draft(
        DecisionDraft(order_id, amount, refund_class, reason, decided_by), order_total
    )


def accept_draft(
    order_id: str, suggestion: Suggestion, decided_by: str, order_total: Decimal | None
) -> DecisionDraft:
    if suggestion.is_error or suggestion.refund_usd is None:
        raise InvalidDecision(
            "refund_class", f"The suggestion is an error ({suggestion.error}); edit or deny it."
        )
    if not suggestion.reason.strip():
        raise InvalidDecision("reason", "The suggestion has no reason; edit it to add one.")
    draft = DecisionDraft(
        order_id, suggestion.refund_usd, suggestion.refund_class, suggestion.reason, decided_by
    )
    return check_draft(draft, order_total)


def deny_draft(order_id: str, decided_by: str) -> DecisionDraft:
    return check_draft(
        DecisionDraft(order_id, Decimal("0.00"), "none", DENY_REASON, decided_by), None
    )
