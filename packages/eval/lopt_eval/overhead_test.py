"""Tests of the overhead study: memory from real states, timing logic on a fake clock, a tiny real run."""

import itertools
import json

import jax
import numpy as np
import pytest

from lopt_eval import overhead, schema


def mlp_params(width):
    """Parameters of 8x8x1 → width → width → 10, counted by hand."""
    return 64 * width + width + width * width + width + width * 10 + 10


@pytest.fixture(scope="module")
def tiny_study():
    # Two optimizers: sgd (added as the baseline) and small_fc_lopt.
    return overhead.overhead_study(["small_fc_lopt"], widths=[8, 16], batch_sizes=[16], repeats=3)


def test_state_bytes_per_param_of_real_states():
    task = overhead.mlp_task(32, 16)
    params = task.init(jax.random.PRNGKey(0))
    assert sum(x.size for x in jax.tree_util.tree_leaves(params)) == mlp_params(32)

    def bytes_of(name):
        return overhead.state_bytes_per_param(overhead.make_optimizer(name).init(params, num_steps=10), params)

    # SGD keeps nothing but the parameters; Adam and NAdamW two float32 moments per parameter.
    assert bytes_of("sgd") == 0.0
    assert bytes_of("adam") == 8.0
    assert bytes_of("nadamw") == 8.0
    # small_fc_lopt: 3 momenta + 1 second moment (16 B) plus 3 factored AdaFactor statistics per row and column.
    assert 16.0 < bytes_of("small_fc_lopt") < 20.0


def test_time_interleaved_on_a_fake_clock():
    now, log, calls_made = [0.0], [], {}
    base = {"a": 10.0, "b": 20.0, "c": 30.0}
    warmup, repeats = 2, 7

    def make_call(name):
        def call():
            k = calls_made.get(name, 0)
            calls_made[name] = k + 1
            # Warm-up calls are slow (compiling) and must not be counted; the timed ones take base + index.
            now[0] += 1000.0 if k < warmup else base[name] + (k - warmup)
            log.append(name)
        return call

    clock_calls = []

    def clock():
        clock_calls.append(now[0])
        return now[0]

    times = overhead.time_interleaved({n: make_call(n) for n in base}, repeats=repeats, warmup=warmup, clock=clock)
    assert times == {n: [b + i for i in range(repeats)] for n, b in base.items()}
    assert len(clock_calls) == 2 * repeats * len(base)
    timed = log[warmup * len(base):]
    rounds = [tuple(timed[i:i + len(base)]) for i in range(0, len(timed), len(base))]
    assert all(sorted(r) == sorted(base) for r in rounds)  # every round runs every function once
    assert len(set(rounds)) > 1  # in a fresh random order


def test_step_time_is_the_median_of_the_clock():
    durations = [5.0, 1.0, 7.0, 2.0, 9.0]
    ticks = iter(np.cumsum([0.0] + [x for d in durations for x in (d, 0.0)])[:-1])
    task = overhead.mlp_task(4, 8)
    seconds = overhead.step_time(task, overhead.make_optimizer("adam"), repeats=5, clock=lambda: float(next(ticks)))
    assert seconds == 5.0


def test_tiny_real_study(tiny_study, tmp_path):
    assert [(r["optimizer"], r["width"], r["batch_size"]) for r in tiny_study] == [
        ("sgd", 8, 16), ("small_fc_lopt", 8, 16), ("sgd", 16, 16), ("small_fc_lopt", 16, 16)]
    for row in tiny_study:
        assert tuple(row) == overhead.ROW_FIELDS
        assert row["num_params"] == mlp_params(row["width"])
        assert row["step_seconds"] > 0
    sgd = [r for r in tiny_study if r["optimizer"] == "sgd"]
    lopt = [r for r in tiny_study if r["optimizer"] == "small_fc_lopt"]
    assert all(r["ratio_to_sgd"] == 1.0 and r["state_bytes_per_param"] == 0.0 for r in sgd)
    for r, base in zip(lopt, sgd):
        assert r["ratio_to_sgd"] == pytest.approx(r["step_seconds"] / base["step_seconds"])
        assert 16.0 < r["state_bytes_per_param"] < 24.0  # small tensors: the factored statistics weigh more

    path = tmp_path / "sub" / "overhead.json"
    overhead.save(str(path), tiny_study, {"repeats": 3})
    document = overhead.load(str(path))
    assert document["rows"] == tiny_study and document["config"] == {"repeats": 3}
    assert document["versions"]["jax"] == jax.__version__


def test_rows_cover_the_grid_and_arrive_per_group():
    groups = []
    rows = overhead.overhead_study(["adam", "sgd"], widths=[4, 8], batch_sizes=[8, 16], repeats=1, warmup=1,
                                   on_rows=groups.append)
    assert [(r["width"], r["batch_size"], r["optimizer"]) for r in rows] == list(
        itertools.product([4, 8], [8, 16], ["sgd", "adam"]))
    assert [len(g) for g in groups] == [2, 2, 2, 2] and sum(groups, []) == rows


def test_bad_grids_name_what_is_wrong():
    with pytest.raises(ValueError, match=r"unknown optimizers \['nope'\]; known: .*small_fc_lopt"):
        overhead.overhead_study(["adam", "nope"], [8], [8])
    with pytest.raises(ValueError, match="widths must be positive integers"):
        overhead.overhead_study(["adam"], [0], [8])
    with pytest.raises(KeyError, match="unknown optimizer 'nope'; known: .*velo"):
        overhead.make_optimizer("nope")


def test_load_rejects_other_documents(tmp_path):
    path = tmp_path / "x.json"
    path.write_text(json.dumps({"schema": schema.SCHEMA, "runs": []}))
    with pytest.raises(schema.ResultsError, match="expected 'lopt-eval-overhead/1'"):
        overhead.load(str(path))
