"""``initlab demo planar``: the exercise's results, trained by the compiled kernel.

Logistic regression (a [2, 1] network, no hidden layer) cannot separate the two
petals of the flower data (about 47%); one hidden layer of 4 tanh units reaches
about 90%. Then the course's hidden-size experiment: 1, 2, 3, 4, 5, 20 and 50
units, 5000 iterations each, and their decision boundaries in one figure.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from initlab import kernel, plots, reference
from initlab.datasets import load_planar
from initlab.i18n import _, pad, rpad
from initlab.plots import figure_text

LEARNING_RATE = 1.2
NUM_ITERATIONS = 10000
HIDDEN_SIZES = (1, 2, 3, 4, 5, 20, 50)
SIZES_ITERATIONS = 5000  # the course's hidden-size experiment


def initialize(n_x: int, n_h: int | None, n_y: int, seed: int = 2) -> dict:
    """randn * 0.01 weights, zero biases, with np.random.seed(2) as the older edition."""
    rng = np.random.RandomState(seed)
    if n_h is None:  # logistic regression: the output layer only
        return {"W1": rng.randn(n_y, n_x) * 0.01, "b1": np.zeros((n_y, 1))}
    return {
        "W1": rng.randn(n_h, n_x) * 0.01,
        "b1": np.zeros((n_h, 1)),
        "W2": rng.randn(n_y, n_h) * 0.01,
        "b2": np.zeros((n_y, 1)),
    }


def train(X, Y, n_h: int | None, iterations: int) -> tuple[dict, np.ndarray, float, float]:
    """(trained parameters, costs every record, accuracy, seconds)."""
    start = time.perf_counter()
    parameters, costs = kernel.train(
        X,
        Y,
        initialize(X.shape[0], n_h, Y.shape[0]),
        learning_rate=LEARNING_RATE,
        num_iterations=iterations,
        record_every=1000 if iterations >= 2000 else max(1, iterations // 10),
        hidden_activation="tanh",
    )
    seconds = time.perf_counter() - start
    return parameters, costs, reference.accuracy(kernel.forward(X, parameters, "tanh"), Y), seconds


def main(out_dir: Path, num_iterations: int = NUM_ITERATIONS) -> None:
    X, labels = load_planar()
    Y = labels.astype(np.float64)
    print(
        _(
            "The flower data: X {shape}, {ones} of {m} examples labelled 1. "
            "Learning rate {rate}, compiled kernel ({build} build)."
        ).format(
            shape=X.shape,
            ones=int(Y.sum()),
            m=Y.shape[1],
            rate=LEARNING_RATE,
            build=kernel.INSTRUCTION_SET,
        )
    )
    logistic = train(X, Y, None, num_iterations)[2]
    trained, costs, accuracy, seconds = train(X, Y, 4, num_iterations)
    record = 1000 if num_iterations >= 2000 else max(1, num_iterations // 10)
    print(
        "\n"
        + _("One hidden layer of 4 tanh units, {iterations} iterations: cost every {every}").format(
            iterations=num_iterations, every=record
        )
    )
    for i, cost in enumerate(costs):
        print(f"  {i * record:>6}  {float(cost):.6f}")
    print("\n" + pad(_("model"), 34) + rpad(_("accuracy"), 10))
    print("-" * 44)
    print(pad(_("logistic regression [2, 1]"), 34) + f"{logistic:>10.2%}")
    print(pad(_("4 tanh hidden units [2, 4, 1]"), 34) + f"{accuracy:>10.2%}")

    iterations = min(SIZES_ITERATIONS, num_iterations)
    runs = [(n_h, *train(X, Y, n_h, iterations)) for n_h in HIDDEN_SIZES]
    print(
        "\n" + _("Hidden layer sizes, {iterations} iterations each:").format(iterations=iterations)
    )
    print(rpad(_("hidden units"), 12) + rpad(_("accuracy"), 10) + rpad(_("seconds"), 9))
    for n_h, *_trained, run_accuracy, run_seconds in runs:
        print(f"{n_h:>12}{run_accuracy:>10.2%}{run_seconds:>9.3f}")
    figure_path = _plot(runs, X, Y, out_dir)
    print("\n" + _("Plot: {path}").format(path=figure_path))


def _plot(runs, X, Y, out_dir: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    plots.language_font()  # before the figures are made: their text takes the font then
    figure, axes = plt.subplots(2, 4, figsize=(14, 7.5), sharex=True, sharey=True)
    for ax, (n_h, parameters, _costs, accuracy, _seconds) in zip(axes.ravel(), runs, strict=False):
        title = (
            figure_text("{n_h} hidden unit: {accuracy:.1%}")
            if n_h == 1
            else figure_text("{n_h} hidden units: {accuracy:.1%}")
        ).format(n_h=n_h, accuracy=accuracy)
        plots.decision_boundary(ax, parameters, X, Y, title, legend=False, activation="tanh")
    for ax in axes[0, :3]:
        ax.set_xlabel("")  # the row below says it
    axes.ravel()[-1].axis("off")
    figure.suptitle(
        figure_text("Decision boundaries by hidden layer size (flower data, training set)")
    )
    figure.legend(handles=plots.legend_handles(), loc="lower center", ncol=4, fontsize=9)
    figure.tight_layout(rect=(0, 0.04, 1, 1))
    path = out_dir / "planar_hidden_sizes.png"
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
