"""Bar charts drawn on the server as SVG geometry: the template writes rects with presentation
attributes and classes only (the CSP allows no inline style), and the numbers go in a table beside."""

from __future__ import annotations

from dataclasses import dataclass

WIDTH, HEIGHT, TOP_MARGIN, BOTTOM_MARGIN = 720, 200, 16, 22


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    value: int


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    baseline: int
    bars: list[Bar]
    maximum: int
    first_label: str
    last_label: str


def bar_chart(points: list[tuple[str, int]]) -> Chart:
    """One bar per (label, value), scaled so the largest fills the height."""
    baseline = HEIGHT - BOTTOM_MARGIN
    maximum = max((value for _, value in points), default=0)
    slot = WIDTH / max(len(points), 1)
    gap = min(slot * 0.2, 4)
    bars = []
    for index, (label, value) in enumerate(points):
        height = round((baseline - TOP_MARGIN) * value / maximum, 2) if maximum else 0
        bars.append(
            Bar(
                round(index * slot + gap / 2, 2),
                round(baseline - height, 2),
                round(slot - gap, 2),
                height,
                label,
                value,
            )
        )
    return Chart(
        WIDTH, HEIGHT, baseline, bars, maximum, points[0][0] if points else "", points[-1][0] if points else ""
    )
