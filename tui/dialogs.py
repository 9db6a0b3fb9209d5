"""Modal dialogs: the decision form and the yes/no confirmation."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Grid, Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from casper.appstore import DecisionDraft, InvalidDecision, RecommendationRow, validate_decision
from casper.appstore.suggestion import REFUND_CLASSES
from tui.formatting import money
from tui.keymap import CONFIRM_BINDINGS, FORM_BINDINGS


class DecisionForm(ModalScreen[DecisionDraft | None]):
    """Edit amount, class, reason and reviewer; dismisses with a validated draft, or None."""

    BINDINGS = FORM_BINDINGS
    DEFAULT_CSS = """
    DecisionForm { align: center middle; }
    DecisionForm #form {
        width: 76; height: auto; padding: 1 2;
        border: thick $accent; background: $surface;
    }
    DecisionForm #suggested { margin-bottom: 1; }
    DecisionForm #fields { grid-size: 2; grid-columns: 14 1fr; grid-rows: auto; height: auto; }
    DecisionForm #fields Label { padding: 1 0; }
    DecisionForm #order_id { padding: 1 1; }
    DecisionForm #form-error { color: $error; height: auto; margin: 1 0 0 0; }
    DecisionForm #buttons { height: auto; align-horizontal: right; margin-top: 1; }
    DecisionForm #buttons Button { margin-left: 2; }
    """

    def __init__(self, row: RecommendationRow, decided_by: str) -> None:
        super().__init__()
        self.row = row
        self.decided_by = decided_by

    def compose(self) -> ComposeResult:
        suggestion = self.row.suggestion
        if suggestion.is_error:
            described = Text.assemble(("Suggestion: error", "bold"), f" ({suggestion.error})")
            amount, refund_class, reason = "0.00", "none", ""
        else:
            described = Text.assemble(
                ("Suggested: ", "bold"),
                f"{suggestion.refund_class} USD {money(suggestion.refund_usd)} — {suggestion.reason}",
            )
            amount = f"{suggestion.refund_usd:.2f}"
            refund_class, reason = suggestion.refund_class, suggestion.reason
        with Vertical(id="form"):
            yield Static(described, id="suggested")
            with Grid(id="fields"):
                yield Label("Order")
                yield Label(Text(self.row.order_id), id="order_id")
                yield Label("Amount (USD)")
                yield Input(value=amount, id="amount_usd")
                yield Label("Class")
                yield Select(
                    [(name, name) for name in REFUND_CLASSES],
                    value=refund_class,
                    allow_blank=False,
                    id="refund_class",
                )
                yield Label("Reason")
                yield Input(value=reason, id="reason")
                yield Label("Decided by")
                yield Input(value=self.decided_by, id="decided_by")
            yield Static("", id="form-error")
            with Horizontal(id="buttons"):
                yield Button("Save", id="save", variant="primary")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        form = self.query_one("#form")
        form.border_title = "Decide refund"
        form.border_subtitle = f"order total USD {money(self.row.order_total)}"
        self.query_one("#amount_usd", Input).focus()

    def action_save(self) -> None:
        for field in self.query(Input):
            field.remove_class("-invalid")
        try:
            draft = validate_decision(
                order_id=self.row.order_id,
                amount_text=self.query_one("#amount_usd", Input).value,
                refund_class=str(self.query_one("#refund_class", Select).value),
                reason=self.query_one("#reason", Input).value,
                decided_by=self.query_one("#decided_by", Input).value,
                order_total=self.row.order_total,
            )
        except InvalidDecision as invalid:
            self.query_one("#form-error", Static).update(Text(invalid.message))
            field = self.query_one(f"#{invalid.field}")
            field.add_class("-invalid")
            field.focus()
            return
        self.dismiss(draft)

    def action_cancel(self) -> None:
        self.dismiss(None)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_save()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "save":
            self.action_save()
        else:
            self.action_cancel()


class ConfirmDialog(ModalScreen[bool]):
    BINDINGS = CONFIRM_BINDINGS
    DEFAULT_CSS = """
    ConfirmDialog { align: center middle; }
    ConfirmDialog #dialog {
        width: 64; height: auto; padding: 1 2;
        border: thick $warning; background: $surface;
    }
    ConfirmDialog #buttons { height: auto; align-horizontal: right; margin-top: 1; }
    ConfirmDialog #buttons Button { margin-left: 2; }
    """

    def __init__(self, title: str, question: str) -> None:
        super().__init__()
        self.title_text = title
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(Text(self.question))
            with Horizontal(id="buttons"):
                yield Button("Yes (y)", id="yes", variant="warning")
                yield Button("No (n)", id="no")

    def on_mount(self) -> None:
        self.query_one("#dialog").border_title = self.title_text
        self.query_one("#no", Button).focus()

    def action_confirm(self) -> None:
        self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "yes")
