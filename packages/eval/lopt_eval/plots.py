"""PNG plots of evaluation results, drawn from results files (`schema.Results`) and metrics files alone.

- `learning_curves`: training loss over steps for each optimizer on one task
  (tradeoffs paper Fig. 1a,c; VeLO Fig. 3).
- `speedup_curve`: each optimizer's speedups over tasks, sorted (VeLO Fig. 1, §4.1.2).
- `pareto`: loss against time or memory with the Pareto front (tradeoffs paper §4, Fig. 1b,d,e).
- `meta_training_curves`: meta-loss over meta-training from lopt_es's `metrics.jsonl`.

Figures are `matplotlib.figure.Figure`s rendered by the Agg canvas, never
pyplot, so plotting changes no global state and needs no display. Every
function creates the parent directories of `path`, writes a PNG of fixed
pixel size (`FIGSIZE` × `DPI`) and returns `path`.
"""

import os
import warnings
from collections.abc import Sequence

import lopt_es
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from lopt_eval import schema
from lopt_eval.speedup import SpeedupResult, moving_average, sorted_speedups

FIGSIZE = (6.4, 4.0)  # inches; two-panel figures are twice as tall
DPI = 100
_BOUND_MARKERS = {None: ("o", "exact"), "lower": ("^", "lower bound (at least)"),
                  "upper": ("v", "upper bound (at most)")}


def _figure(rows: int = 1) -> Figure:
    return Figure(figsize=(FIGSIZE[0], FIGSIZE[1] * rows), dpi=DPI, layout="constrained")


def _save(figure: Figure, path) -> str:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    FigureCanvasAgg(figure)
    figure.savefig(path, format="png", dpi=DPI)
    return os.fspath(path)


def _results(results) -> schema.Results:
    """A Results object, or the results file at that path."""
    return results if isinstance(results, schema.Results) else schema.load(os.fspath(results))


def _seed_band(curves: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Min and max over seeds (axis 0), NaN where every seed has diverged."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns: diverged everywhere, drawn as a gap
        return np.nanmin(curves, axis=0), np.nanmax(curves, axis=0)


def learning_curves(results, task: str, path, *, log_x: bool = False, log_y: bool = False) -> str:
    """Training loss over steps of every candidate and tuned baseline run on `task`.

    Lines are the mean over seeds (broken where a seed diverged), bands the
    min–max over seeds, and validation losses (if recorded) dashed with
    markers. The loss at the start of step t is drawn at step t+1, the
    number of gradient evaluations it took (as in `speedup`), so that a
    log-scaled x axis shows step 0 too. Search trials (role "trial") are left
    out: there can be hundreds.
    """
    results = _results(results)
    runs = [r for r in results.runs if r.task == task and r.role in ("candidate", "baseline")]
    if not runs:
        tasks = sorted({r.task for r in results.runs})
        raise ValueError(f"learning_curves: no candidate or baseline run on task {task!r}; "
                         f"expected one of the tasks in the results: {tasks}.")
    figure = _figure()
    ax = figure.add_subplot()
    for run in runs:
        steps = np.arange(1, run.num_steps + 1)
        candidate = run.role == "candidate"
        (line,) = ax.plot(steps, np.mean(run.train_loss, axis=0), lw=2.0 if candidate else 1.2,
                          label=f"{run.optimizer} ({run.role})")
        low, high = _seed_band(run.train_loss)
        ax.fill_between(steps, low, high, color=line.get_color(), alpha=0.2, lw=0)
        if run.valid_steps and run.valid_loss is not None:
            ax.plot(np.asarray(run.valid_steps) + 1, np.mean(run.valid_loss, axis=0), "o--",
                    color=line.get_color(), ms=4, lw=1, label=f"{run.optimizer} (validation)")
    ax.set_xscale("log" if log_x else "linear")
    ax.set_yscale("log" if log_y else "linear")
    ax.set_xlabel("step")
    ax.set_ylabel("training loss")
    ax.set_title(f"{task}: mean over {len(runs[0].seeds)} seeds, band = min–max over seeds", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return _save(figure, path)


def speedup_curve(results, path) -> str:
    """Every optimizer's speedups over its tasks, sorted descending (VeLO Fig. 1).

    One line per optimizer with a speedup in the summary, each sorted on its
    own; x is the fraction of tasks on which the optimizer is at least that
    fast. Markers: filled circles are exact, hollow up/down triangles lower /
    upper bounds, crosses at the bottom edge diverged runs (speedup 0, which a
    log axis cannot show). The dashed line at 1 is the baseline itself.
    """
    results = _results(results)
    by_optimizer: dict[str, list] = {}
    for s in results.summary:
        if s.speedup is None:
            continue
        value = s.speedup.get("value")
        if value is None or not np.isfinite(value) or value < 0:
            raise ValueError(f"speedup_curve: summary of {s.optimizer!r} on {s.task!r} has speedup value "
                             f"{value!r}, expected a finite number >= 0.")
        by_optimizer.setdefault(s.optimizer, []).append((s.task, SpeedupResult(value, s.speedup.get("bound")),
                                                         s.speedup.get("baseline")))
    if not by_optimizer:
        raise ValueError("speedup_curve: no summary in the results has a speedup; expected at least one.")
    curves = {name: sorted_speedups([e[1] for e in entries], labels=[e[0] for e in entries])
              for name, entries in by_optimizer.items()}
    values = np.concatenate([c.values for c in curves.values()])
    floor = min([v for v in values if v > 0] + [1.0]) / 2
    baselines = sorted({str(e[2]) for entries in by_optimizer.values() for e in entries})

    figure = _figure()
    ax = figure.add_subplot()
    ax.axhline(1.0, color="black", ls="--", lw=1)
    seen = set()
    for name, curve in curves.items():
        shown = np.maximum(curve.values, floor)
        (line,) = ax.plot(curve.fraction, shown, lw=1.5,
                          label=f"{name}: {100 * curve.fraction_above_one:.0f}% of {len(shown)} tasks > 1")
        for x, y, value, bound in zip(curve.fraction, shown, curve.values, curve.bounds):
            kind = "diverged" if value == 0 else bound
            seen.add(kind)
            marker = "x" if kind == "diverged" else _BOUND_MARKERS[bound][0]
            ax.plot(x, y, marker, ms=7, color=line.get_color(),
                    markerfacecolor=line.get_color() if kind is None else "none")
    markers = [Line2D([], [], marker=_BOUND_MARKERS[b][0], ls="", color="gray",
                      markerfacecolor="gray" if b is None else "none", label=_BOUND_MARKERS[b][1])
               for b in (None, "lower", "upper") if b in seen]
    if "diverged" in seen:
        markers.append(Line2D([], [], marker="x", ls="", color="gray", label="diverged (0)"))
    ax.legend(handles=ax.get_legend_handles_labels()[0] + markers, fontsize=8)
    ax.set_yscale("log", base=2)
    ax.set_ylim(floor / 1.2, max(values.max(), 1.0) * 1.5)
    ax.set_xlim(0, 1.02)
    ax.set_xlabel("fraction of tasks")
    ax.set_ylabel(f"speedup over tuned {', '.join(baselines)}")
    ax.set_title("steps the baseline needs for the same loss ÷ steps taken", fontsize=10)
    ax.grid(alpha=0.3, which="both")
    return _save(figure, path)


def _checked_points(points: Sequence) -> list[tuple[str, float, float]]:
    out = []
    for i, p in enumerate(points):
        if len(p) != 3 or not isinstance(p[0], str):
            raise ValueError(f"point {i} is {p!r}, expected (name, x, y).")
        out.append((p[0], float(p[1]), float(p[2])))
    return out


def pareto_front(points: Sequence) -> list[str]:
    """Names of the points that no other point beats on both axes (both minimised), in order of x.

    A point is dominated if another is at most as large on both axes and
    smaller on one; identical points do not dominate each other. Points
    with a non-finite coordinate (a diverged run) are never on the front.
    """
    finite = [p for p in _checked_points(points) if np.isfinite(p[1]) and np.isfinite(p[2])]
    front = [p for p in finite
             if not any(q[1] <= p[1] and q[2] <= p[2] and (q[1] < p[1] or q[2] < p[2]) for q in finite)]
    return [p[0] for p in sorted(front, key=lambda p: (p[1], p[2]))]


def pareto(points: Sequence, path, x_label: str, y_label: str, *, log_x: bool = False) -> str:
    """Loss against a cost (time per step, memory) per optimizer, Pareto front highlighted (tradeoffs §4).

    `points` is a list of (name, x, y); both axes are minimised. Front points
    are filled and joined by the staircase that bounds what is achievable;
    the others are hollow and grey. Points with a non-finite coordinate are
    left out.
    """
    checked = [p for p in _checked_points(points) if np.isfinite(p[1]) and np.isfinite(p[2])]
    if not checked:
        raise ValueError(f"pareto: {len(points)} points, none with finite x and y; expected at least one.")
    front = set(pareto_front(checked))
    on_front = sorted((p for p in checked if p[0] in front), key=lambda p: (p[1], p[2]))
    figure = _figure()
    ax = figure.add_subplot()
    others = [p for p in checked if p[0] not in front]
    if others:
        ax.plot([p[1] for p in others], [p[2] for p in others], "o", ms=7, color="gray",
                markerfacecolor="none", label="dominated")
    ax.step([p[1] for p in on_front], [p[2] for p in on_front], where="post", color="tab:red", lw=1.5)
    ax.plot([p[1] for p in on_front], [p[2] for p in on_front], "o", ms=7, color="tab:red", label="Pareto front")
    for name, x, y in checked:
        ax.annotate(name, (x, y), textcoords="offset points", xytext=(5, 4), fontsize=8)
    ax.set_xscale("log" if log_x else "linear")
    ax.margins(0.1)  # room for the names
    ax.set_xlabel(x_label)
    ax.set_ylabel(y_label)
    ax.set_title("lower is better on both axes", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return _save(figure, path)


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def meta_training_curves(metrics_jsonl_path, path, *, log_y: bool = False) -> str:
    """Meta-loss over meta-training, and any "eval/..." metrics below it, from lopt_es's `metrics.jsonl`.

    Each record is one meta-step s ("step"); its meta-loss was measured
    with θ after s meta-updates and its eval metrics (`eval_fn(θ, s + 1)`)
    after s + 1, and that is where they are drawn. The raw meta-loss is
    faint; over it a trailing moving average over 5% of the steps with a
    finite meta-loss.
    """
    records = [r for r in lopt_es.read_metrics(metrics_jsonl_path) if _is_number(r.get("step"))]
    losses = [(r["step"], r["meta_loss"]) for r in records if _is_number(r.get("meta_loss"))]
    if not losses:
        raise ValueError(f"meta_training_curves: {metrics_jsonl_path} has no record with numeric 'step' and "
                         "'meta_loss'; expected lopt_es's metrics.jsonl.")
    evals: dict[str, list] = {}
    for r in records:
        for key, value in r.items():
            if key.startswith("eval/") and _is_number(value):
                evals.setdefault(key, []).append((r["step"] + 1, value))

    figure = _figure(rows=2 if evals else 1)
    axes = figure.subplots(2 if evals else 1, 1, sharex=True, squeeze=False)[:, 0]
    steps, meta = np.array(losses, np.float64).T
    # A NaN meta-loss is a step whose tasks all failed (and whose update lopt_es skipped), not a
    # diverged θ: it is a gap in the raw line, and the average runs over the finite steps.
    finite = np.isfinite(meta)
    window = max(1, round(0.05 * finite.sum()))
    (raw,) = axes[0].plot(steps, meta, lw=0.8, alpha=0.35, label="meta-loss")
    if finite.any():
        axes[0].plot(steps[finite], moving_average(meta[finite], window), lw=2, color=raw.get_color(),
                     label=f"moving average over {window} finite steps")
    axes[0].set_ylabel("meta-loss")
    axes[0].set_yscale("log" if log_y else "linear")
    axes[0].set_title(f"meta-training: {os.path.basename(os.path.dirname(os.path.abspath(metrics_jsonl_path)))}",
                      fontsize=10)
    for key, series in sorted(evals.items()):
        x, y = np.array(series, np.float64).T
        axes[1].plot(x, y, "o-", ms=3, label=key)
    if evals:
        axes[1].set_ylabel("eval metrics")
    for ax in axes:
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    axes[-1].set_xlabel("meta-step (meta-updates applied to θ)")
    return _save(figure, path)


def loss_pareto(results, task: str, path, *, axis: str = "time") -> str:
    """Final loss against time per step (`axis="time"`) or optimizer memory (`"memory"`) on one task.

    The tradeoffs paper's Fig. 2 for the optimizers of a results file: each
    summary of `task` with the cost recorded is a point (name, cost, final loss).
    A run's step time is its vmapped batch time divided by the runs in the
    batch, so a baseline swept over 15 learning rates at once looks somewhat
    cheaper per step than a candidate run alone; `overhead.overhead_study` times each
    optimizer's step in isolation when the time axis has to be exact.
    """
    results = _results(results)
    field, label = {"time": ("step_seconds", "ms per training step"),
                    "memory": ("state_bytes_per_param", "optimizer state, bytes per parameter")}[axis]
    points = []
    for s in results.summary:
        cost = getattr(s, field, None)
        if s.task == task and cost is not None:
            points.append((s.optimizer, cost * (1e3 if axis == "time" else 1.0), s.final_loss_mean))
    if not points:
        tasks = sorted({s.task for s in results.summary})
        raise ValueError(f"loss_pareto: no {axis} costs recorded for task {task!r}; tasks with summaries: {tasks}.")
    return pareto(points, path, label, f"final training loss on {task}")
