"""Light figures for graded notebooks: a run's cost curve and decision boundary as SVG.

While nbgrader autogrades a notebook there is no time for matplotlib (importing
it costs more than grading the notebook), yet the student's feedback page should
show what their own initialization did. These figures are written directly as
SVG text, with the decision regions as a small embedded PNG, in the colours of
``initlab.plots``: a few milliseconds each. In a notebook, ``display(figure)``
shows one (it has ``_repr_svg_``); ``figure.svg`` is the text.
"""

from __future__ import annotations

import base64
import math
import struct
import zlib
from html import escape

import numpy as np

from initlab.i18n import _
from initlab.plots import CLASS_COLORS, REGION_COLORS, color_of, region_labels

__all__ = ["Figure", "boundary_figure", "png", "training_figure"]

GRID_POINTS = 80  # per side of the decision regions' image
_WIDTH, _HEIGHT = 800, 310
_FONT = (
    "font-family:DejaVu Sans,Helvetica,Arial,Noto Sans CJK SC,PingFang SC,"
    "Microsoft YaHei,sans-serif"
)


class Figure:
    """An SVG figure; Jupyter shows it through ``_repr_svg_``."""

    def __init__(self, svg: str):
        self.svg = svg

    def _repr_svg_(self) -> str:
        return self.svg


def png(rgb: np.ndarray) -> bytes:
    """A PNG file of an (height, width, 3) uint8 image, top row first."""
    height, width, _ = rgb.shape
    rows = b"".join(b"\x00" + rgb[row].tobytes() for row in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows, 6))
        + chunk(b"IEND", b"")
    )


def _rgb(color: str) -> tuple[int, int, int]:
    return tuple(int(color[i : i + 2], 16) for i in (1, 3, 5))


def _ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high]."""
    if not high > low:
        high = low + 1.0
    step = 10 ** math.floor(math.log10((high - low) / count))
    for factor in (1, 2, 2.5, 5, 10):
        if (high - low) / (step * factor) <= count:
            step *= factor
            break
    first = math.ceil(low / step - 1e-9) * step
    return [first + i * step for i in range(int((high - first) / step + 1e-9) + 1)]


def _number(value: float) -> str:
    return f"{value:g}" if abs(value) < 1e5 else f"{value:.0e}"


class _Panel:
    """A plotting area at (left, top) of width x height, mapping data to pixels."""

    def __init__(self, left, top, width, height, x_range, y_range):
        self.left, self.top, self.width, self.height = left, top, width, height
        self.x_range, self.y_range = x_range, y_range

    def x(self, value: float) -> float:
        low, high = self.x_range
        return self.left + (value - low) / (high - low) * self.width

    def y(self, value: float) -> float:
        low, high = self.y_range
        return self.top + self.height - (value - low) / (high - low) * self.height

    def axes(self, x_label: str, y_label: str, title: str) -> list[str]:
        bottom = self.top + self.height
        parts = [
            f'<rect x="{self.left}" y="{self.top}" width="{self.width}" height="{self.height}" '
            'fill="none" stroke="#333" stroke-width="0.8"/>',
            f'<text x="{self.left + self.width / 2}" y="{self.top - 10}" text-anchor="middle" '
            f'font-size="13">{escape(title)}</text>',
            f'<text x="{self.left + self.width / 2}" y="{bottom + 34}" text-anchor="middle" '
            f'font-size="11">{escape(x_label)}</text>',
            f'<text transform="translate({self.left - 44},{self.top + self.height / 2}) '
            f'rotate(-90)" text-anchor="middle" font-size="11">{escape(y_label)}</text>',
        ]
        for value in _ticks(*self.x_range):
            x = self.x(value)
            parts.append(f'<line x1="{x:.1f}" y1="{bottom}" x2="{x:.1f}" y2="{bottom + 4}" '
                         'stroke="#333"/>')  # fmt: skip
            parts.append(f'<text x="{x:.1f}" y="{bottom + 16}" text-anchor="middle" '
                         f'font-size="10">{_number(value)}</text>')  # fmt: skip
        for value in _ticks(*self.y_range):
            y = self.y(value)
            parts.append(f'<line x1="{self.left - 4}" y1="{y:.1f}" x2="{self.left}" '
                         f'y2="{y:.1f}" stroke="#333"/>')  # fmt: skip
            parts.append(f'<text x="{self.left - 7}" y="{y + 3.5:.1f}" text-anchor="end" '
                         f'font-size="10">{_number(value)}</text>')  # fmt: skip
        return parts


def _cost_panel(name: str, costs: np.ndarray, record_every: int) -> list[str]:
    iterations = np.arange(len(costs)) * record_every
    finite = np.isfinite(costs)
    shown = costs[finite] if finite.any() else np.zeros(1)
    low, high = float(shown.min()), float(shown.max())
    if high - low < 1e-6 * max(abs(high), 1.0):  # a flat curve (zeros): a band around it
        low, high = low - 0.1, high + 0.1
    pad = (high - low) * 0.08
    panel = _Panel(70, 40, 260, 210, (0.0, float(max(iterations[-1], 1))), (low - pad, high + pad))
    color = color_of(name) or "#1f77b4"
    parts = panel.axes(_("iteration"), _("cost (cross-entropy)"),
                       _("{name}: cost").format(name=name))  # fmt: skip
    drawn = zip(iterations[finite], costs[finite], strict=True)
    points = " ".join(f"{panel.x(i):.1f},{panel.y(c):.1f}" for i, c in drawn)
    if points:
        parts.append(f'<polyline points="{points}" fill="none" stroke="{color}" '
                     'stroke-width="1.8"/>')  # fmt: skip
        for point in points.split():
            x, y = point.split(",")
            parts.append(f'<circle cx="{x}" cy="{y}" r="2.4" fill="{color}"/>')
    if not finite.all():
        parts.append(f'<text x="{panel.left + panel.width - 8}" y="{panel.top + 16}" '
                     'text-anchor="end" font-size="10" fill="#555">'
                     + escape(_("{count} infinite cost(s) not drawn").format(
                         count=int((~finite).sum()))) + "</text>")  # fmt: skip
    return parts


def _boundary_panel(
    name: str, parameters: dict, X: np.ndarray, Y: np.ndarray, activation: str, left: int = 410
) -> list[str]:
    low, high, labels = region_labels(parameters, X, activation, GRID_POINTS)
    labels = labels[::-1]  # the image's top row is the largest x2
    side = 210
    panel = _Panel(left, 40, side, side, (float(low[0]), float(high[0])),
                   (float(low[1]), float(high[1])))  # fmt: skip
    palette = np.array([_rgb(c) for c in REGION_COLORS], dtype=np.uint8)
    image = base64.b64encode(png(palette[labels.astype(int)])).decode()
    parts = [
        f'<image x="{panel.left}" y="{panel.top}" width="{side}" height="{side}" '
        f'preserveAspectRatio="none" style="image-rendering:pixelated" '
        f'href="data:image/png;base64,{image}"/>'
    ]
    for label, color in enumerate(CLASS_COLORS):
        chosen = Y[0] == label
        for x1, x2 in zip(X[0, chosen], X[1, chosen], strict=True):
            parts.append(f'<circle cx="{panel.x(x1):.1f}" cy="{panel.y(x2):.1f}" r="2.1" '
                         f'fill="{color}" stroke="#000" stroke-width="0.3"/>')  # fmt: skip
    parts += panel.axes("x1", "x2", _("{name}: decision boundary").format(name=name))
    example, predicted = _("training example, class {label}"), _("predicted {label}")
    legend = [("circle", CLASS_COLORS[0], example.format(label=0)),
              ("circle", CLASS_COLORS[1], example.format(label=1)),
              ("rect", REGION_COLORS[0], predicted.format(label=0)),
              ("rect", REGION_COLORS[1], predicted.format(label=1))]  # fmt: skip
    for row, (shape, color, text) in enumerate(legend):
        x, y = panel.left + side + 14, panel.top + 12 + row * 18
        if shape == "circle":
            parts.append(f'<circle cx="{x + 5}" cy="{y - 4}" r="3.5" fill="{color}" '
                         'stroke="#000" stroke-width="0.3"/>')  # fmt: skip
        else:
            parts.append(f'<rect x="{x}" y="{y - 9}" width="10" height="10" fill="{color}"/>')
        parts.append(f'<text x="{x + 15}" y="{y}" font-size="10">{escape(text)}</text>')
    return parts


def _svg(width: int, parts: list[str]) -> Figure:
    return Figure("\n".join([
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{_HEIGHT}" '
        f'viewBox="0 0 {width} {_HEIGHT}" style="{_FONT}">',
        f'<rect width="{width}" height="{_HEIGHT}" fill="#fff"/>',
        *parts,
        "</svg>",
    ]))  # fmt: skip


def boundary_figure(
    name: str, parameters: dict, X: np.ndarray, Y: np.ndarray, activation: str = "relu"
) -> Figure:
    """The decision boundary of a trained network, on the training set."""
    return _svg(_WIDTH - 340, _boundary_panel(name, parameters, X, Y, activation, left=70))


def training_figure(
    name: str,
    costs: np.ndarray,
    parameters: dict,
    X: np.ndarray,
    Y: np.ndarray,
    record_every: int = 1000,
    activation: str = "relu",
) -> Figure:
    """The cost curve of a run and the decision boundary it ended with, on the training set."""
    costs = np.asarray(costs, dtype=np.float64).ravel()
    boundary = _boundary_panel(name, parameters, X, Y, activation)
    return _svg(_WIDTH, _cost_panel(name, costs, record_every) + boundary)
