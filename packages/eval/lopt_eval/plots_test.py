"""Every plot writes a readable PNG of the documented size; the Pareto front against hand-made points."""

import json
import math

import numpy as np
import pytest
from PIL import Image

from lopt_eval import plots, schema

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
WIDTH, HEIGHT = round(plots.FIGSIZE[0] * plots.DPI), round(plots.FIGSIZE[1] * plots.DPI)


def run(optimizer, role, steps, rate, *, lr=1e-3, valid=False):
    seeds = [0, 1, 2]
    t = np.arange(steps)
    loss = np.stack([2.3 * np.exp(-rate * t) + 0.05 * (s + 1) for s in seeds])
    valid_steps = list(range(0, steps, steps // 5)) if valid else None
    return schema.Run(optimizer=optimizer, task="digits_mlp", role=role, hyperparameters={"learning_rate": lr},
                      num_steps=steps, seeds=seeds, train_loss=loss, step_seconds=1e-3, meta_loss=loss.mean(1),
                      valid_steps=valid_steps, valid_loss=loss[:, valid_steps] + 0.1 if valid else None)


def speedup(value, bound=None):
    return {"value": value, "bound": bound, "baseline": "adam"}


@pytest.fixture
def results():
    diverged = run("adam", "trial", 200, 0.01, lr=10.0)
    diverged.train_loss[1, 50:] = np.nan
    return schema.Results(
        config={"tasks": ["digits_mlp"]},
        runs=[run("small_fc_lopt", "candidate", 50, 0.08, valid=True), run("adam", "baseline", 200, 0.02),
              diverged],
        summary=[
            schema.Summary("small_fc_lopt", "digits_mlp", 0.2, 0.01, speedup(2.5)),
            schema.Summary("small_fc_lopt", "fmnist_mlp", 0.3, 0.02, speedup(4.0, "lower")),
            schema.Summary("small_fc_lopt", "cifar_conv", 1.3, 0.02, speedup(0.7)),
            schema.Summary("small_fc_lopt", "lm_lstm", 3.1, 0.1, speedup(0.02, "upper")),
            schema.Summary("nadamw", "digits_mlp", 0.3, 0.01, speedup(1.4)),
            schema.Summary("nadamw", "fmnist_mlp", math.nan, math.nan, speedup(0.0)),
            schema.Summary("adam", "digits_mlp", 0.4, 0.01, None),
        ],
        versions={"lopt_eval": "test"}, created="2026-01-01T00:00:00Z")


def assert_png(path, width=WIDTH, height=HEIGHT):
    with open(path, "rb") as f:
        assert f.read(8) == PNG_MAGIC
    with Image.open(path) as image:
        assert image.size == (width, height)
        pixels = np.asarray(image.convert("RGB"))
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 10, "the image is (nearly) blank"


def test_learning_curves_from_results_and_from_a_results_file(results, tmp_path):
    out = tmp_path / "new" / "dir" / "curves.png"
    assert plots.learning_curves(results, "digits_mlp", out, log_x=True) == str(out)
    assert_png(out)
    schema.save(str(tmp_path / "results.json"), results)
    from_file = plots.learning_curves(str(tmp_path / "results.json"), "digits_mlp", str(tmp_path / "f.png"))
    assert_png(from_file)


def test_learning_curves_of_a_task_not_in_the_results_names_the_tasks(results, tmp_path):
    with pytest.raises(ValueError, match=r"no candidate or baseline run on task 'cifar_conv'.*\['digits_mlp'\]"):
        plots.learning_curves(results, "cifar_conv", tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


def test_speedup_curve(results, tmp_path):
    assert_png(plots.speedup_curve(results, tmp_path / "speedup.png"))


def test_speedup_curve_without_speedups_or_with_a_missing_value_is_an_error(results, tmp_path):
    results.summary = [s for s in results.summary if s.speedup is None]
    with pytest.raises(ValueError, match="no summary in the results has a speedup"):
        plots.speedup_curve(results, tmp_path / "speedup.png")
    results.summary.append(schema.Summary("velo", "lm_lstm", 1.0, 0.0, speedup(None)))
    with pytest.raises(ValueError, match="'velo' on 'lm_lstm' has speedup value None"):
        plots.speedup_curve(results, tmp_path / "speedup.png")


def test_pareto_front_minimises_both_axes():
    points = [("a", 1.0, 5.0), ("b", 2.0, 3.0), ("c", 3.0, 4.0),  # c: b is smaller on both axes
              ("d", 4.0, 1.0), ("e", 2.0, 3.0),  # e ties b exactly: neither dominates
              ("f", 5.0, 1.0),  # f: d has the same y at a smaller x
              ("g", math.nan, 0.0), ("h", 6.0, 0.5)]  # g diverged; h has the lowest y of all
    assert plots.pareto_front(points) == ["a", "b", "e", "d", "h"]
    assert plots.pareto_front([("only", 1.0, 1.0)]) == ["only"]
    assert plots.pareto_front([("x", 1.0, 2.0), ("y", 1.0, 1.0)]) == ["y"]  # same x, smaller y wins
    with pytest.raises(ValueError, match=r"point 0 is \('a', 1.0\), expected \(name, x, y\)"):
        plots.pareto_front([("a", 1.0)])


def test_pareto_plot(tmp_path):
    points = [("sgd", 1.0, 0.9), ("adam", 1.3, 0.5), ("small_fc_lopt", 1.6, 0.45), ("nn_adam", 2.0, 0.48),
              ("velo", 9.0, 0.3), ("diverged", 3.0, math.nan)]
    out = plots.pareto(points, tmp_path / "pareto.png", "time per step (× SGD)", "final training loss", log_x=True)
    assert_png(out)


def test_pareto_of_no_finite_points_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="none with finite x and y"):
        plots.pareto([], tmp_path / "p.png", "x", "y")
    with pytest.raises(ValueError, match="1 points, none with finite"):
        plots.pareto([("a", math.inf, 1.0)], tmp_path / "p.png", "x", "y")


def write_metrics(path, steps, *, eval_every=0):
    with open(path, "w") as f:
        for step in range(steps):
            record = {"step": step, "meta_loss": 2.0 / (1 + 0.1 * step) if step != 7 else math.nan,
                      "grad_norm": 1.0}
            if eval_every and (step + 1) % eval_every == 0:
                record["eval/loss"] = 2.2 / (1 + 0.1 * step)
            f.write(json.dumps(record) + "\n")  # NaN is written as NaN, as lopt_es does
        f.write("\n")


def test_meta_training_curves_with_and_without_eval_metrics(tmp_path):
    write_metrics(tmp_path / "metrics.jsonl", 60, eval_every=10)
    assert_png(plots.meta_training_curves(tmp_path / "metrics.jsonl", tmp_path / "out" / "meta.png"),
               height=2 * HEIGHT)
    write_metrics(tmp_path / "plain.jsonl", 60)
    assert_png(plots.meta_training_curves(tmp_path / "plain.jsonl", tmp_path / "plain.png"))


def test_meta_training_curves_of_unusable_files_name_the_problem(tmp_path):
    (tmp_path / "empty.jsonl").write_text("")
    with pytest.raises(ValueError, match="no record with numeric 'step' and 'meta_loss'"):
        plots.meta_training_curves(tmp_path / "empty.jsonl", tmp_path / "m.png")
    (tmp_path / "bad.jsonl").write_text('{"step": 0, "meta_loss": 1.0}\n{"step": 1,\n')
    with pytest.raises(ValueError, match=r"bad.jsonl:2: not JSON"):
        plots.meta_training_curves(tmp_path / "bad.jsonl", tmp_path / "m.png")


def test_loss_pareto_from_summaries(tmp_path, monkeypatch):
    summary = [schema.Summary("a", "t", 0.5, 0.0, None, 0.002, 8.0),
               schema.Summary("b", "t", 0.7, 0.0, None, 0.001, 16.0),
               schema.Summary("c", "u", 0.1, 0.0)]
    results = schema.Results(config={}, runs=[], summary=summary)
    drawn = {}
    original = plots.pareto
    monkeypatch.setattr(plots, "pareto", lambda points, path, x, y: drawn.setdefault(x, points) and original(
        points, path, x, y))
    for axis in ("time", "memory"):
        path = plots.loss_pareto(results, "t", tmp_path / f"{axis}.png", axis=axis)
        assert open(path, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    assert drawn == {"ms per training step": [("a", 2.0, 0.5), ("b", 1.0, 0.7)],
                     "optimizer state, bytes per parameter": [("a", 8.0, 0.5), ("b", 16.0, 0.7)]}
    with pytest.raises(ValueError, match="no time costs recorded for task 'u'"):
        plots.loss_pareto(results, "u", tmp_path / "u.png")
