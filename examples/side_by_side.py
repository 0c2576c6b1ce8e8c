"""Printing and plotting two optimizers' runs side by side, shared by the examples (their training loops are their own).

    runs = {"adam": (train_losses, test_loss), "celo": (train_losses, test_loss)}
    side_by_side.report(runs, "plot.png", "Haiku MLP on digits")
"""

import os

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

#: Smallest loss the log-scale running mean takes (a minibatch loss can reach 0 in float32).
FLOOR = 1e-12


def output_path(path: str) -> str:
    """`path` relative to where the example was started (`bazel run` runs it in its runfiles directory)."""
    return os.path.join(os.environ.get("BUILD_WORKING_DIRECTORY", ""), path)


def table(runs: dict, rows: int = 10) -> str:
    """The training losses of every run in columns, at `rows` evenly spaced steps and the last, then the test losses."""
    steps = min(len(losses) for losses, _ in runs.values())
    width = max(12, *(len(name) for name in runs)) + 2
    lines = ["step  " + "".join(f"{name:>{width}}" for name in runs)]
    for i in sorted(set(range(0, steps, max(1, steps // rows))) | {steps - 1}):
        lines.append(f"{i:<6}" + "".join(f"{losses[i]:>{width}.4g}" for losses, _ in runs.values()))
    lines.append("test  " + "".join(f"{test:>{width}.4g}" for _, test in runs.values()))
    return "\n".join(lines)


def plot(runs: dict, path: str, title: str) -> str:
    """Each run's training loss per step (faint) and its running geometric mean over 2% of the run, in one PNG.

    The geometric mean (a mean of logarithms, losses floored at `FLOOR`) suits the log scale: one spike
    does not hide a run's level. Losses that are not all non-negative get a linear scale and the ordinary mean.
    """
    figure = Figure(figsize=(6, 4), dpi=100)
    axes = figure.add_subplot()
    positive = all(np.all(losses >= 0) for losses, _ in runs.values())
    for name, (losses, _) in runs.items():
        window = max(1, len(losses) // 50)
        values = np.log(np.maximum(losses, FLOOR)) if positive else losses
        mean = np.convolve(values, np.ones(window) / window, mode="valid")
        line, = axes.plot(np.arange(len(losses)), losses, linewidth=0.5, alpha=0.3)
        axes.plot(np.arange(window - 1, len(losses)), np.exp(mean) if positive else mean, color=line.get_color(),
                  label=name)
    axes.set(xlabel="step", ylabel="training loss (minibatch)", title=title, yscale="log" if positive else "linear")
    axes.legend()
    FigureCanvasAgg(figure).print_png(path)
    return path


def report(runs: dict, path: str, title: str) -> str:
    """Prints `table(runs)`, writes `plot(runs, output_path(path), title)` and says where; returns the plot's path."""
    print(table(runs))
    path = plot(runs, output_path(path), title)
    print(f"wrote {path}")
    return path
