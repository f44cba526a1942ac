"""The course's two pictures: a cost curve and a decision boundary (matplotlib).

Shared by ``initlab demo`` and the notebook; each draws into axes it is given.
"""

from __future__ import annotations

import numpy as np

from initlab import kernel, reference

GRID_POINTS = 150  # per side of the decision-boundary grid


def cost_curve(ax, costs: np.ndarray, record_every: int = 1000, label: str | None = None) -> None:
    """The recorded costs against the iteration; an infinite cost is not drawn."""
    iterations = np.arange(len(costs)) * record_every
    finite = np.isfinite(costs)
    ax.plot(iterations[finite], costs[finite], marker="o", ms=3, label=label)
    ax.set_xlabel("iteration")
    ax.set_ylabel("cost (cross-entropy)")
    ax.grid(alpha=0.3)


def decision_boundary(ax, parameters: dict, X: np.ndarray, Y: np.ndarray, title: str = "") -> None:
    """The region the network labels 1 on a grid around the data, and the data.

    The regions are an image of the grid's labels (a fraction of the time contour
    filling takes to draw, which matters in a notebook graded many times)."""
    low = X.min(axis=1) - 0.3
    high = X.max(axis=1) + 0.3
    grid_x, grid_y = np.meshgrid(
        np.linspace(low[0], high[0], GRID_POINTS), np.linspace(low[1], high[1], GRID_POINTS)
    )
    points = np.ascontiguousarray(np.vstack([grid_x.ravel(), grid_y.ravel()]))
    labels = reference.predict(kernel.forward(points, parameters)).reshape(grid_x.shape)
    ax.imshow(
        labels,
        origin="lower",
        extent=(low[0], high[0], low[1], high[1]),
        cmap="Spectral",
        vmin=-0.5,
        vmax=1.5,
        alpha=0.8,
        interpolation="nearest",
    )
    ax.scatter(X[0], X[1], c=Y[0], cmap="Spectral", s=12, edgecolors="k", linewidths=0.3)
    ax.set_title(title)
    ax.set_aspect("equal")
