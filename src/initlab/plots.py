"""The course's two pictures: a cost curve and a decision boundary (matplotlib).

Shared by ``initlab demo`` and the notebook; each draws into axes it is given, in
the same colours everywhere: one per initialization, and one per class for both
the dots of the data and the region the network labels with that class.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from initlab import kernel, reference
from initlab.i18n import _, language

GRID_POINTS = 150  # per side of the decision-boundary grid
# Class 0 (the outer circle) and class 1 (the inner one): dots, and lighter regions.
CLASS_COLORS = ("#c0392b", "#2471a3")
REGION_COLORS = ("#f5b7b1", "#aed6f1")
# One colour per initialization, whatever the order it is drawn in.
INIT_COLORS = {"zeros": "#7f7f7f", "random": "#d68910", "xavier": "#8e44ad", "he": "#1e8449"}


def color_of(label: str | None) -> str | None:
    """The colour of an initialization named in label ("zeros", "large random (x10)",
    "He, sqrt(2/n)", ...), or None for matplotlib's next colour."""
    words = (label or "").lower().replace(",", " ").split()
    for key in ("zeros", "random", "xavier", "he"):
        if key in words or (key == "zeros" and "zero" in words):
            return INIT_COLORS[key]
    for key, word in (("zeros", "零"), ("random", "随机")):  # the Chinese names
        if word in (label or ""):
            return INIT_COLORS[key]
    return None


# The CJK font of the noto-cjk-sans-otc dependency (Noto Sans CJK, SIL Open Font
# License): Chinese figure text is drawn with it, Latin text with matplotlib's own.
CJK_FAMILIES = ("Noto Sans CJK SC", "Noto Sans CJK JP")


@cache
def cjk_font() -> str | None:
    """The CJK font family matplotlib draws Chinese with, registered on first use; None
    when the font is not installed (figures then keep their English text)."""
    try:
        import noto_cjk_sans_otc
        from matplotlib import font_manager
    except ImportError:
        return None
    try:
        font_manager.fontManager.addfont(str(noto_cjk_sans_otc.FONT_PATH))
    except (OSError, RuntimeError, ValueError):
        return None
    names = {font.name for font in font_manager.fontManager.ttflist}
    return next((family for family in CJK_FAMILIES if family in names), None)


def figure_text(english: str) -> str:
    """english in the current language for a figure: in Chinese only when a CJK font
    can draw it (then set as matplotlib's fallback for the glyphs its own font lacks),
    else in English rather than as empty boxes."""
    return _(english) if language_font() else english


def language_font() -> bool:
    """Whether figures can be drawn in the current language: English always; Chinese
    when the CJK font is installed, which becomes matplotlib's fallback family (the
    glyphs the families before it lack come from it) for figures made from now on."""
    if language() == "en":
        return True
    family = cjk_font()
    if family is None:
        return False
    import matplotlib

    families = list(matplotlib.rcParams["font.family"])
    if family not in families:
        matplotlib.rcParams["font.family"] = [*families, family]
    return True


def cost_curve(
    ax,
    costs: np.ndarray,
    record_every: int = 1000,
    label: str | None = None,
    color: str | None = None,
) -> None:
    """The recorded costs against the iteration; an infinite cost is not drawn."""
    iterations = np.arange(len(costs)) * record_every
    finite = np.isfinite(costs)
    ax.plot(
        iterations[finite],
        costs[finite],
        marker="o",
        ms=3,
        label=label,
        color=color or color_of(label),
    )
    ax.set_xlabel(figure_text("iteration"))
    ax.set_ylabel(figure_text("cost (cross-entropy)"))
    ax.grid(alpha=0.3)


def region_labels(
    parameters: dict, X: np.ndarray, activation: str = "relu", points: int = GRID_POINTS
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The network's label on a points x points grid 0.3 beyond the data on each side:
    (low, high, labels), labels[i, j] at x1 = linspace(low[0], high[0])[j] and
    x2 = linspace(low[1], high[1])[i] (row 0 is the lowest x2)."""
    low = X.min(axis=1) - 0.3
    high = X.max(axis=1) + 0.3
    grid_x, grid_y = np.meshgrid(
        np.linspace(low[0], high[0], points), np.linspace(low[1], high[1], points)
    )
    grid = np.ascontiguousarray(np.vstack([grid_x.ravel(), grid_y.ravel()]))
    labels = reference.predict(kernel.forward(grid, parameters, activation))
    return low, high, labels.reshape(grid_x.shape)


def decision_boundary(
    ax,
    parameters: dict,
    X: np.ndarray,
    Y: np.ndarray,
    title: str = "",
    legend: bool = True,
    activation: str = "relu",
) -> None:
    """The region the network labels 1 on a grid around the data, and the data (the
    training set, as the course draws it), with axis labels and a legend.

    The regions are an image of the grid's labels (a fraction of the time contour
    filling takes to draw, which matters in a notebook graded many times)."""
    from matplotlib.colors import ListedColormap

    low, high, labels = region_labels(parameters, X, activation)
    ax.imshow(
        labels,
        origin="lower",
        extent=(low[0], high[0], low[1], high[1]),
        cmap=ListedColormap(REGION_COLORS),
        vmin=0,
        vmax=1,
        interpolation="nearest",
    )
    for label, color in enumerate(CLASS_COLORS):
        chosen = Y[0] == label
        ax.scatter(
            X[0, chosen],
            X[1, chosen],
            c=color,
            s=12,
            edgecolors="k",
            linewidths=0.3,
        )
    ax.set_xlabel("x1")
    ax.set_ylabel("x2")
    ax.set_title(title)
    ax.set_aspect("equal")
    if legend:
        ax.legend(handles=legend_handles(), loc="upper right", fontsize=7, framealpha=0.85)


def legend_handles() -> list:
    """What a decision boundary's colours mean: the training examples of each class,
    and the regions the network predicts each class in."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    dots = [
        Line2D([], [], marker="o", ls="", color=color, markeredgecolor="k", markersize=5,
               label=figure_text("training example, class {label}").format(label=label))
        for label, color in enumerate(CLASS_COLORS)
    ]  # fmt: skip
    regions = [
        Patch(color=c, label=figure_text("predicted {label}").format(label=label))
        for label, c in enumerate(REGION_COLORS)
    ]
    return dots + regions
