"""Accept, edit and deny, shared by every screen that shows an order to decide on."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from textual import work
from textual.screen import Screen

from casper.appstore import (
    DecisionDraft,
    InvalidDecision,
    RecommendationRow,
    StaleSuggestion,
    StoreError,
    Suggestion,
    accept_draft,
    deny_draft,
)
from tui.dialogs import DecisionForm
from tui.formatting import money
from tui.messages import DecisionSaved, StoreFailed

if TYPE_CHECKING:
    from tui.app import RefundReviewApp


class DecidingScreen(Screen):
    """Subclasses say which order is in view (`decision_target`) and refresh once a decision is
    stored (`decision_stored`)."""

    def __init__(self) -> None:
        super().__init__()
        # Orders whose decision is being written: a repeated key press must not decide them twice.
        self.orders_being_saved: set[str] = set()

    @property
    def review_app(self) -> RefundReviewApp:
        return cast("RefundReviewApp", self.app)

    def decision_target(self) -> tuple[RecommendationRow | None, str | None]:
        """The order to decide on, and the order to move to once it is decided."""
        raise NotImplementedError(f"{type(self).__name__} must say which order is in view")

    def decision_started(self, next_order_id: str | None) -> None:
        """Called as soon as a decision is on its way to the store; by default nothing moves."""

    def decision_stored(self, next_order_id: str | None) -> None:
        """Called once a decision is in the store (after the notification): show what changed."""
        raise NotImplementedError(f"{type(self).__name__} must refresh after a decision")

    def on_decision_saved(self, saved: DecisionSaved) -> None:
        decision = saved.decision
        self.notify(
            f"{decision.refund_class} USD {money(decision.amount_usd)} for order {decision.order_id}",
            title="Decision saved",
            markup=False,
        )
        self.decision_stored(saved.next_order_id)

    def save(
        self, draft: DecisionDraft, expected: Suggestion | None, next_order_id: str | None
    ) -> None:
        if draft.order_id in self.orders_being_saved:
            return
        self.orders_being_saved.add(draft.order_id)
        self.save_decision(draft, expected, next_order_id)
        self.decision_started(next_order_id)

    def action_accept(self) -> None:
        row, next_order_id = self.decision_target()
        if row is None:
            return
        try:
            draft = accept_draft(
                row.order_id, row.suggestion, self.review_app.user, row.order_total
            )
        except InvalidDecision as invalid:
            self.notify(invalid.message, title="Cannot accept", severity="warning", markup=False)
            return
        self.save(draft, row.suggestion, next_order_id)

    def action_edit(self) -> None:
        row, next_order_id = self.decision_target()
        if row is None:
            return

        def save_if_submitted(draft: DecisionDraft | None) -> None:
            if draft is not None:
                self.save(draft, None, next_order_id)

        self.app.push_screen(DecisionForm(row, self.review_app.user), save_if_submitted)

    def action_deny(self) -> None:
        row, next_order_id = self.decision_target()
        if row is None:
            return
        try:
            draft = deny_draft(row.order_id, self.review_app.user)
        except InvalidDecision as invalid:
            self.notify(invalid.message, title="Cannot deny", severity="warning", markup=False)
            return
        self.save(draft, None, next_order_id)

    @work(thread=True, group="decide")
    def save_decision(
        self, draft: DecisionDraft, expected: Suggestion | None, next_order_id: str | None
    ) -> None:
        try:
            decision = self.review_app.store.apply_decision(draft, expected=expected)
        except (InvalidDecision, StaleSuggestion) as refused:
            self.post_message(StoreFailed(str(refused), severity="warning"))
        except StoreError as failed:
            self.post_message(StoreFailed(str(failed)))
        else:
            self.post_message(DecisionSaved(decision, next_order_id))
        finally:
            self.orders_being_saved.discard(draft.order_id)
