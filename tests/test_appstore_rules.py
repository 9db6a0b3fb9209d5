"""The rules with no database: reading agent_response, and what a decision may be."""

from __future__ import annotations

import json
from dataclasses import replace
from decimal import Decimal

import pytest

from casper.appstore import (
    DecisionDraft,
    InvalidDecision,
    Suggestion,
    accept_draft,
    deny_draft,
    parse_agent_response,
    validate_decision,
)
from casper.appstore.decisions import DENY_REASON, check_draft
from casper.appstore.text import text_problem


def test_a_well_formed_response_is_a_suggestion_in_cents() -> None:
    text = json.dumps({"refund_usd": 8.505, "refund_class": "partial", "reason": "Late by 11 min."})
    assert parse_agent_response(text) == Suggestion("partial", Decimal("8.51"), "Late by 11 min.")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('{"refund_usd": 5.0, "refund_class": "partial", "reason": "Late by', "not valid JSON"),
        (None, "not a JSON object"),
        ("[1, 2]", "not a JSON object"),
        (
            '{"refund_usd": 3, "refund_class": "maybe", "reason": "?"}',
            "unknown refund_class 'maybe'",
        ),
        ('{"refund_usd": 3, "reason": "?"}', "unknown refund_class None"),
        ('{"refund_usd": -5.0, "refund_class": "partial", "reason": "?"}', "is negative"),
        ('{"refund_usd": "5.00", "refund_class": "partial", "reason": "?"}', "is not a number"),
        ('{"refund_usd": true, "refund_class": "full", "reason": "?"}', "is not a number"),
        ('{"refund_usd": NaN, "refund_class": "full", "reason": "?"}', "is not a number"),
        ('{"refund_usd": 1e12, "refund_class": "full", "reason": "?"}', "is too large"),
    ],
)
def test_a_bad_response_is_an_error_suggestion_saying_why(text: str | None, problem: str) -> None:
    suggestion = parse_agent_response(text)
    assert suggestion.is_error
    assert suggestion.refund_class == "error"
    assert suggestion.refund_usd is None
    assert problem in (suggestion.error or "")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        # a JSON escape is ASCII, so either backend stores the response; what it means is not text
        (
            json.dumps({"refund_usd": 5.0, "refund_class": "partial", "reason": "Late\x00"}),
            "reason cannot contain a NUL character",
        ),
        (
            json.dumps({"refund_usd": 5.0, "refund_class": "partial", "reason": "Late \ud800"}),
            "reason holds U+D800, a lone surrogate, which is not text",
        ),
        # a raw NUL: SQLite would keep the response, PostgreSQL refuses it
        (
            '{"refund_usd": 5.0, "refund_class": "partial", "reason": "Late"}\x00',
            "agent_response cannot contain a NUL character",
        ),
        # what the other errors quote of the response is escaped, so they are text too
        (json.dumps({"refund_usd": 1, "refund_class": "\x00"}), "unknown refund_class '\\x00'"),
        (json.dumps({"refund_usd": "\ud800", "refund_class": "full"}), "'\\ud800' is not a number"),
    ],
    ids=["reason-nul", "reason-surrogate", "raw-nul", "class-nul", "amount-surrogate"],
)
def test_a_response_with_text_either_backend_cannot_store_is_an_error(
    text: str, problem: str
) -> None:
    suggestion = parse_agent_response(text)
    assert (suggestion.refund_class, suggestion.refund_usd) == ("error", None)
    assert suggestion.error is not None and problem in suggestion.error
    assert text_problem(suggestion.error, "error") is None
    assert text_problem(suggestion.reason, "reason") is None


def test_a_missing_reason_reads_as_empty() -> None:
    assert parse_agent_response('{"refund_usd": 0, "refund_class": "none"}').reason == ""


def _decide(amount: str, **overrides: object) -> DecisionDraft:
    fields = {
        "order_id": "a41f0c9e2b7d5a13",
        "amount_text": amount,
        "refund_class": "partial",
        "reason": "Late.",
        "decided_by": "ann",
        "order_total": Decimal("27.25"),
    }
    return validate_decision(**{**fields, **overrides})


@pytest.mark.parametrize(
    ("amount", "field", "message"),
    [
        ("abc", "amount_usd", "Amount must be a number."),
        ("", "amount_usd", "Amount must be a number."),
        ("NaN", "amount_usd", "Amount must be a number."),
        ("-0.01", "amount_usd", "Amount cannot be negative."),
        ("1.234", "amount_usd", "Amount has at most two decimals."),
        ("27.26", "amount_usd", "Amount cannot exceed the order total (USD 27.25)."),
    ],
)
def test_amounts_are_checked(amount: str, field: str, message: str) -> None:
    with pytest.raises(InvalidDecision) as refused:
        _decide(amount)
    assert (refused.value.field, refused.value.message) == (field, message)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"refund_class": "error"}, "refund_class"),
        ({"reason": "   "}, "reason"),
        ({"decided_by": ""}, "decided_by"),
    ],
)
def test_class_reason_and_reviewer_are_required(overrides: dict, field: str) -> None:
    with pytest.raises(InvalidDecision) as refused:
        _decide("1.00", **overrides)
    assert refused.value.field == field


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"reason": "Late\x00"}, "reason", "Reason cannot contain a NUL character."),
        (
            {"reason": "Late \ud800"},
            "reason",
            "Reason holds U+D800, a lone surrogate, which is not text.",
        ),
        ({"decided_by": "ann\x00"}, "decided_by", "Decided by cannot contain a NUL character."),
        (
            {"decided_by": "\udcff"},
            "decided_by",
            "Decided by holds U+DCFF, a lone surrogate, which is not text.",
        ),
        ({"order_id": "a41f\x00"}, "order_id", "Order id cannot contain a NUL character."),
    ],
)
def test_text_that_either_backend_cannot_store_is_refused(
    overrides: dict, field: str, message: str
) -> None:
    with pytest.raises(InvalidDecision) as refused:
        _decide("1.00", **overrides)
    assert (refused.value.field, refused.value.message) == (field, message)


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"amount_usd": 1.5}, "amount_usd", "Amount must be a Decimal, not float."),
        ({"amount_usd": "1.50"}, "amount_usd", "Amount must be a Decimal, not str."),
        ({"amount_usd": True}, "amount_usd", "Amount must be a Decimal, not bool."),
        ({"reason": None}, "reason", "A reason is required."),
        ({"reason": 7}, "reason", "Reason must be text, not int."),
        ({"decided_by": None}, "decided_by", "Decided by is required."),
        ({"order_id": None}, "order_id", "Order id must be text, not NoneType."),
    ],
)
def test_a_draft_of_the_wrong_types_is_an_invalid_decision(
    changes: dict, field: str, message: str
) -> None:
    draft = replace(DecisionDraft("o1", Decimal("1.00"), "full", "Late.", "ann"), **changes)
    with pytest.raises(InvalidDecision) as refused:
        check_draft(draft, Decimal("10.00"))
    assert (refused.value.field, refused.value.message) == (field, message)


def test_a_valid_decision_keeps_text_verbatim() -> None:
    reason = "  Customer said: \"it's cold\"; refund 50%'); DROP TABLE x;--  "
    draft = _decide(" 27.25 ", reason=reason, decided_by="Zoë O'Brien")
    assert draft.amount_usd == Decimal("27.25")
    assert draft.reason == reason
    assert draft.decided_by == "Zoë O'Brien"


def test_without_an_order_total_only_the_amount_rules_apply() -> None:
    assert _decide("999.99", order_total=None).amount_usd == Decimal("999.99")


def test_accepting_takes_the_suggestion_as_it_is() -> None:
    suggestion = Suggestion("full", Decimal("27.25"), "Beyond P99.")
    draft = accept_draft("o1", suggestion, "ann", Decimal("27.25"))
    assert (draft.amount_usd, draft.refund_class, draft.reason) == (
        Decimal("27.25"),
        "full",
        "Beyond P99.",
    )


@pytest.mark.parametrize(
    ("suggestion", "total", "field"),
    [
        (parse_agent_response("not json"), Decimal("10"), "refund_class"),
        (Suggestion("full", Decimal("95.00"), "Beyond P99."), Decimal("12.00"), "amount_usd"),
        (Suggestion("partial", Decimal("1.00"), " "), Decimal("12.00"), "reason"),
    ],
)
def test_some_suggestions_cannot_be_accepted_as_they_are(
    suggestion: Suggestion, total: Decimal, field: str
) -> None:
    with pytest.raises(InvalidDecision) as refused:
        accept_draft("o1", suggestion, "ann", total)
    assert refused.value.field == field


def test_denying_is_no_refund() -> None:
    draft = deny_draft("o1", "ann")
    assert (draft.amount_usd, draft.refund_class, draft.reason) == (
        Decimal("0.00"),
        "none",
        DENY_REASON,
    )
