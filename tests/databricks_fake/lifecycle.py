"""Resources that start in a transient state and settle after a number of polls."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Countdown:
    """Counts GETs down to zero; `settled` is True once `pending_polls` polls have been answered.

    With 1 the SDK's waiter sees the transient state once and sleeps about 1-2 s before its next poll,
    so tests that do not look at the transition use 0.
    """

    remaining: int

    def poll(self) -> bool:
        if self.remaining > 0:
            self.remaining -= 1
            return False
        return True

    @property
    def settled(self) -> bool:
        return self.remaining <= 0
