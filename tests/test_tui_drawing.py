"""The pure drawing helpers behind the detail screen: the braille route and the delivery gauge."""

from __future__ import annotations

from tui.braille import BLANK, plot_route
from tui.formatting import delivery_gauge, delivery_verdict


def dots(rows: tuple[str, ...]) -> int:
    return sum(bin(ord(character) - BLANK).count("1") for row in rows for character in row)


def test_a_route_due_east_is_one_line_of_dots_from_kitchen_to_customer() -> None:
    plot = plot_route([(41.88, -87.64), (41.88, -87.60)], columns=10, rows=3)
    assert plot is not None
    assert len(plot.rows) == 3 and all(len(row) == 10 for row in plot.rows)
    assert dots(plot.rows) == 20  # every dot across the 2-dot-wide cells, none missing
    assert plot.start[0] == 0 and plot.end[0] == 9 and plot.start[1] == plot.end[1]


def test_north_is_up_and_shape_is_kept() -> None:
    # A square block (equal miles north and east), drawn in a wide box, stays square.
    lat = 37.79
    east = 0.01 / 0.7902  # 0.01 degrees of latitude, as degrees of longitude at 37.79 N
    plot = plot_route([(lat, -122.40), (lat + 0.01, -122.40), (lat + 0.01, -122.40 + east)], 40, 10)
    assert plot is not None
    start_column, start_row = plot.start
    end_column, end_row = plot.end
    assert end_row < start_row  # the customer is north: higher up the screen
    assert abs((end_column - start_column) * 2 - (start_row - end_row) * 4) <= 2  # dots are square


def test_nothing_to_draw() -> None:
    assert plot_route([], 10, 4) is None
    assert plot_route([(37.0, -122.0)], 10, 4) is None
    assert plot_route([(37.0, -122.0), (37.1, -122.1)], 0, 4) is None
    same = plot_route([(37.0, -122.0), (37.0, -122.0)], 4, 2)
    assert same is not None and dots(same.rows) == 1


def test_the_gauge_places_percentiles_in_order_along_the_bar() -> None:
    bar, labels = delivery_gauge(52.3, {"P50": 33.0, "P75": 41.0, "P99": 63.5}, width=70)
    assert len(bar) == 70
    filled = bar.count("█")
    assert 0 < filled < 70 and bar == "█" * filled + "░" * (70 - filled)
    assert labels.index("▲P50") < labels.index("▲P75") < labels.index("▲P99")
    assert labels.index("▲P75") < filled - 1 < labels.index("▲P99")  # late, not beyond P99


def test_close_percentiles_do_not_overwrite_each_other() -> None:
    _, labels = delivery_gauge(10.0, {"P50": 30.0, "P75": 30.2, "P99": 30.4}, width=40)
    assert "▲P50" in labels and "▲P75" in labels and "▲P99" in labels


def test_the_verdict() -> None:
    assert delivery_verdict(40.0, 41.0, 63.5).startswith("on time")
    assert delivery_verdict(52.3, 41.0, 63.5) == "late: 11.3 min past P75"
    assert delivery_verdict(70.0, 41.0, 63.5) == "very late: 6.5 min past P99"
