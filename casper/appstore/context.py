"""The order context the detail screen shows, read back from the JSON the sync stored.

Lenient on purpose: an entry that does not parse is left out, so one odd event or item costs a line
on the detail screen rather than the screen. A JSON escape that is not text once read ("\\u0000",
"\\ud800": the warehouse's to_json writes a landed NUL so) reads as U+FFFD, as the sync stores it.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from casper.appstore.records import BasketItem, TimelineEvent
from casper.appstore.suggestion import to_cents
from casper.appstore.text import storable


def _json_list(text: str | None) -> list[Any]:
    try:
        document = json.loads(text) if text else []
    except ValueError:
        return []
    return document if isinstance(document, list) else []


def parse_timeline(text: str | None) -> tuple[TimelineEvent, ...]:
    events = []
    for entry in _json_list(text):
        try:
            event = TimelineEvent(
                int(entry["sequence"]),
                storable(str(entry["event_type"])),
                datetime.fromisoformat(entry["ts"]),
            )
        except (KeyError, TypeError, ValueError):
            continue
        if event.event_type != "driver_ping":
            events.append(event)
    return tuple(sorted(events, key=lambda event: event.sequence))


def parse_basket(text: str | None) -> tuple[BasketItem, ...]:
    items = []
    for entry in _json_list(text):
        try:
            items.append(
                BasketItem(
                    storable(str(entry["name"])),
                    storable(str(entry["brand"])),
                    to_cents(entry["price"]),
                    int(entry["qty"]),
                )
            )
        except (KeyError, TypeError, ValueError, ArithmeticError):
            continue
    return tuple(items)


def parse_route(text: str | None) -> tuple[tuple[float, float], ...]:
    points = []
    for entry in _json_list(text):
        try:
            lat, lon = entry
            points.append((float(lat), float(lon)))
        except (TypeError, ValueError):
            continue
    return tuple(points)
