"""The course's experiment: the 3-layer model on the circles data, four initializations.

Trains ``[2, 10, 5, 1]`` (LINEAR -> RELU -> LINEAR -> RELU -> LINEAR -> SIGMOID)
for 15000 iterations at learning rate 0.01 from zeros, large random (x10),
Xavier and He initialization through the compiled kernel, prints the cost
traces and the conclusion table, and saves the cost curves and the decision
boundaries as PNG files.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from initlab import kernel, plots, reference
from initlab.datasets import load_circles
from initlab.i18n import N_, _, pad, rpad, width
from initlab.plots import figure_text

LAYERS_DIMS = [2, 10, 5, 1]
LEARNING_RATE = 0.01
NUM_ITERATIONS = 15000
RECORD_EVERY = 1000
INITIALIZATIONS = {
    "zeros": N_("zeros"),
    "random": N_("large random (x10)"),
    "xavier": N_("Xavier, sqrt(1/n)"),
    "he": N_("He, sqrt(2/n)"),
}


@dataclass
class Run:
    """One training run of the demo."""

    init: str
    parameters: dict
    costs: np.ndarray
    train_accuracy: float
    test_accuracy: float
    seconds: float
    record_every: int = RECORD_EVERY


def record_every(num_iterations: int) -> int:
    """Every 1000 iterations, as the course; about ten records for a shorter run."""
    return RECORD_EVERY if num_iterations >= 2 * RECORD_EVERY else max(1, num_iterations // 10)


def run(num_iterations: int = NUM_ITERATIONS) -> list[Run]:
    """Train the course model once per initialization."""
    train_X, train_Y, test_X, test_Y = load_circles()
    runs = []
    for init in INITIALIZATIONS:
        start = time.perf_counter()
        parameters, costs = kernel.train(
            train_X,
            train_Y,
            reference.initialize_parameters(LAYERS_DIMS, init),
            learning_rate=LEARNING_RATE,
            num_iterations=num_iterations,
            record_every=record_every(num_iterations),
        )
        seconds = time.perf_counter() - start
        runs.append(
            Run(
                init=init,
                parameters=parameters,
                costs=costs,
                train_accuracy=reference.accuracy(kernel.forward(train_X, parameters), train_Y),
                test_accuracy=reference.accuracy(kernel.forward(test_X, parameters), test_Y),
                seconds=seconds,
                record_every=record_every(num_iterations),
            )
        )
    return runs


def format_traces(runs: list[Run]) -> str:
    """The costs of every run side by side, with all the digits of each float."""
    lines = [pad(_("iteration"), 9) + " " + "".join(f"{r.init:>22}" for r in runs)]
    for row in range(max(len(r.costs) for r in runs)):
        cells = "".join(f"{repr(float(r.costs[row])):>22}" for r in runs)
        lines.append(f"{row * runs[0].record_every:>9} " + cells)
    return "\n".join(lines)


def format_table(runs: list[Run]) -> str:
    """The conclusion table: accuracies, the last recorded cost and the training time."""
    last = (len(runs[0].costs) - 1) * runs[0].record_every
    header = (
        pad(_("initialization"), 20)
        + rpad(_("train accuracy"), 16)
        + rpad(_("test accuracy"), 15)
        + rpad(_("cost at {iteration}").format(iteration=last), 22)
        + rpad(_("seconds"), 9)
    )
    lines = [header, "-" * width(header)]
    for r in runs:
        lines.append(
            pad(_(INITIALIZATIONS[r.init]), 20)
            + f"{r.train_accuracy:>16.4g}{r.test_accuracy:>15.4g}"
            f"{repr(float(r.costs[-1])):>22}{r.seconds:>9.3f}"
        )
    return "\n".join(lines)


def plot(runs: list[Run], out_dir: Path) -> list[Path]:
    """cost_curves.png and decision_boundaries.png in out_dir."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    train_X, train_Y, _, _ = load_circles()
    out_dir.mkdir(parents=True, exist_ok=True)
    plots.language_font()  # before the figures are made: their text takes the font then

    figure, axes = plt.subplots(figsize=(7, 4.5))
    for r in runs:
        label = figure_text(INITIALIZATIONS[r.init])
        plots.cost_curve(axes, r.costs, r.record_every, label, plots.INIT_COLORS[r.init])
    axes.set_title(
        figure_text(
            "Cost during training, learning rate 0.01\n(random's first cost is inf: not drawn)"
        )
    )
    axes.legend()
    figure.tight_layout()
    curves = out_dir / "cost_curves.png"
    figure.savefig(curves, dpi=110)
    plt.close(figure)

    figure, axes = plt.subplots(2, 2, figsize=(9, 9), sharex=True, sharey=True)
    for ax, r in zip(axes.ravel(), runs, strict=True):
        title = figure_text("{name}\ntrain {train:.1%}, test {test:.1%}").format(
            name=figure_text(INITIALIZATIONS[r.init]), train=r.train_accuracy, test=r.test_accuracy
        )
        plots.decision_boundary(ax, r.parameters, train_X, train_Y, title, legend=False)
    figure.suptitle(
        figure_text(
            "Decision boundaries after training: the regions the network predicts,\n"
            "and the training set (circles data)"
        )
    )
    figure.legend(handles=plots.legend_handles(), loc="lower center", ncol=4, fontsize=9)
    figure.tight_layout(rect=(0, 0.04, 1, 1))
    boundaries = out_dir / "decision_boundaries.png"
    figure.savefig(boundaries, dpi=110)
    plt.close(figure)
    return [curves, boundaries]


def main(out_dir: Path, num_iterations: int = NUM_ITERATIONS) -> None:
    print(
        _(
            "Training {layers} (relu hidden layers, sigmoid output) on the circles data: "
            "{iterations} iterations, learning rate {rate}, compiled kernel ({build} build)"
        ).format(
            layers=LAYERS_DIMS,
            iterations=num_iterations,
            rate=LEARNING_RATE,
            build=kernel.INSTRUCTION_SET,
        )
    )
    runs = run(num_iterations)
    print(
        "\n" + _("Cost after each {every} iterations:").format(every=record_every(num_iterations))
    )
    print(format_traces(runs))
    print()
    print(format_table(runs))
    files = plot(runs, out_dir)
    print("\n" + _("Plots: {files}").format(files=", ".join(str(f) for f in files)))
