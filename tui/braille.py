"""A route drawn with braille characters: each terminal cell holds a 2x4 grid of dots.

Pure geometry, no widgets: the route map widget asks for a plot the size it has on screen.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

BLANK = 0x2800
# The bit of each dot in a braille cell, by (column, row) inside the cell.
DOT_BITS = {
    (0, 0): 0x01,
    (0, 1): 0x02,
    (0, 2): 0x04,
    (1, 0): 0x08,
    (1, 1): 0x10,
    (1, 2): 0x20,
    (0, 3): 0x40,
    (1, 3): 0x80,
}


@dataclass(frozen=True)
class RoutePlot:
    rows: tuple[str, ...]
    start: tuple[int, int]  # (column, row) of the cell where the route begins: the kitchen
    end: tuple[int, int]  # where it ends: the customer


class BrailleCanvas:
    def __init__(self, columns: int, rows: int) -> None:
        self.columns = columns
        self.rows = rows
        self._cells = [[0] * columns for _ in range(rows)]

    @property
    def width(self) -> int:
        return self.columns * 2

    @property
    def height(self) -> int:
        return self.rows * 4

    def dot(self, x: int, y: int) -> None:
        if 0 <= x < self.width and 0 <= y < self.height:
            self._cells[y // 4][x // 2] |= DOT_BITS[(x % 2, y % 4)]

    def line(self, x0: int, y0: int, x1: int, y1: int) -> None:
        """Bresenham: every dot on the way, no gaps whatever the slope."""
        dx, dy = abs(x1 - x0), -abs(y1 - y0)
        step_x, step_y = (1 if x0 < x1 else -1), (1 if y0 < y1 else -1)
        error = dx + dy
        while True:
            self.dot(x0, y0)
            if (x0, y0) == (x1, y1):
                return
            doubled = 2 * error
            if doubled >= dy:
                error += dy
                x0 += step_x
            if doubled <= dx:
                error += dx
                y0 += step_y

    def render(self) -> tuple[str, ...]:
        return tuple("".join(chr(BLANK + bits) for bits in row) for row in self._cells)


def plot_route(points: Sequence[tuple[float, float]], columns: int, rows: int) -> RoutePlot | None:
    """Fit a route of (lat, lon) points into `columns` x `rows` cells, north up, true to shape.

    A braille dot is about as wide as it is tall on a terminal, so one scale serves both axes once
    longitude is shrunk by cos(latitude). None if there is nothing to draw or no room to draw it.
    """
    if len(points) < 2 or columns < 1 or rows < 1:
        return None
    canvas = BrailleCanvas(columns, rows)
    shrink = math.cos(math.radians(sum(lat for lat, _ in points) / len(points)))
    xs = [lon * shrink for _, lon in points]
    ys = [lat for lat, _ in points]
    span_x, span_y = max(xs) - min(xs), max(ys) - min(ys)
    scale = min(
        (canvas.width - 1) / span_x if span_x else math.inf,
        (canvas.height - 1) / span_y if span_y else math.inf,
    )
    if math.isinf(scale):
        scale = 0.0  # every point the same: a single dot
    # Centre the drawing in the spare room of the axis that did not set the scale.
    offset_x = (canvas.width - 1 - span_x * scale) / 2
    offset_y = (canvas.height - 1 - span_y * scale) / 2
    dots = [
        (
            round(offset_x + (x - min(xs)) * scale),
            round(offset_y + (max(ys) - y) * scale),  # screen rows grow southwards
        )
        for x, y in zip(xs, ys, strict=True)
    ]
    for (x0, y0), (x1, y1) in zip(dots, dots[1:], strict=False):
        canvas.line(x0, y0, x1, y1)
    (start_x, start_y), (end_x, end_y) = dots[0], dots[-1]
    return RoutePlot(
        rows=canvas.render(),
        start=(start_x // 2, start_y // 4),
        end=(end_x // 2, end_y // 4),
    )
