import json
import os

import jax
import jax.numpy as jnp
import lopt_architectures as la
import lopt_tasks as lt
import numpy as np
import optax
import pytest

from lopt_es import checkpoint
from lopt_es.curriculum import Curriculum
from lopt_es.meta_loss import MetaLoss
from lopt_es.meta_train import MetaTrainConfig, StalledError, meta_train
from lopt_es.testing import LearnedLR, QuadraticTask
from lopt_es.truncated import PES
from lopt_es.workdir import MetricsError, ResumeError

LOPT = la.small_fc_lopt()
ESTIMATOR = PES(LOPT, lt.SingleTaskFamily(lt.get_task("digits_mlp", batch_size=16)), num_tasks=2, trunc_length=3,
                inner_length=6, std=0.01)
CONFIG = MetaTrainConfig(num_steps=6, learning_rate=3e-3, checkpoint_every=2)


def read_metrics(workdir):
    with open(workdir / "metrics.jsonl") as f:
        return [{k: v for k, v in json.loads(line).items() if k != "seconds"} for line in f]


class Crash(Exception):
    pass


def test_resume_after_a_crash_is_bit_identical(tmp_path):
    whole = meta_train(LOPT, ESTIMATOR, CONFIG, str(tmp_path / "whole"))

    def crash_at_step_4(step, metrics):
        if step == 4:
            raise Crash

    with pytest.raises(Crash):
        meta_train(LOPT, ESTIMATOR, CONFIG, str(tmp_path / "resumed"), on_step=crash_at_step_4)
    assert checkpoint.list_steps(str(tmp_path / "resumed" / "checkpoints"))[-1] == 4
    resumed = meta_train(LOPT, ESTIMATOR, CONFIG, str(tmp_path / "resumed"))
    assert int(resumed.step) == int(whole.step) == 6
    jax.tree.map(np.testing.assert_array_equal, resumed.theta, whole.theta)
    jax.tree.map(np.testing.assert_array_equal, resumed.opt_state, whole.opt_state)
    jax.tree.map(np.testing.assert_array_equal, resumed.estimator_state, whole.estimator_state)
    assert read_metrics(tmp_path / "resumed") == read_metrics(tmp_path / "whole")
    assert [m["step"] for m in read_metrics(tmp_path / "whole")] == list(range(6))


def test_stopping_in_pieces_equals_one_run(tmp_path):
    config = MetaTrainConfig(num_steps=4, checkpoint_every=100)
    lopt, est = LearnedLR(), PES(LearnedLR(), lt.SingleTaskFamily(QuadraticTask()), num_tasks=4, trunc_length=2,
                                 inner_length=4, std=0.05)
    whole = meta_train(lopt, est, config, str(tmp_path / "a"))
    for stop in (1, 3, 4):
        pieces = meta_train(lopt, est, config, str(tmp_path / "b"), stop_after=stop)
    jax.tree.map(np.testing.assert_array_equal, pieces, whole)


def test_a_checkpoint_of_another_configuration_is_refused_and_kept(tmp_path):
    meta_train(LOPT, ESTIMATOR, MetaTrainConfig(num_steps=2, checkpoint_every=2), str(tmp_path))
    other = PES(LOPT, ESTIMATOR.family, num_tasks=3, trunc_length=3, inner_length=6)
    with pytest.raises(checkpoint.CheckpointError, match="shape"):
        meta_train(LOPT, other, MetaTrainConfig(num_steps=4), str(tmp_path))
    assert checkpoint.list_steps(str(tmp_path / "checkpoints")) == [2]


def test_learning_happens_and_curriculum_applies(tmp_path):
    lopt = LearnedLR(initial_log_lr=float(np.log(0.02)))  # far too small a learning rate
    est = PES(lopt, lt.SingleTaskFamily(QuadraticTask()), num_tasks=8, trunc_length=5, inner_length=20, std=0.1)
    curriculum = Curriculum(((0, {"inner_length": 10}), (10, {"inner_length": 20})))
    state = meta_train(lopt, est, MetaTrainConfig(num_steps=30, learning_rate=0.05), str(tmp_path),
                       curriculum=curriculum)
    assert float(state.theta["log_lr"]) > np.log(0.02) + 0.5  # PES found a larger learning rate
    lengths = set(state.estimator_state.cursor.length.tolist())
    assert 20 in lengths
    records = read_metrics(tmp_path)
    assert records[-1]["meta_loss"] < records[0]["meta_loss"]


def test_eval_hook_and_validation_meta_loss(tmp_path):
    calls = []
    lopt = LearnedLR()
    est = PES(lopt, lt.SingleTaskFamily(QuadraticTask()), num_tasks=2, trunc_length=2, inner_length=4,
              meta_loss=MetaLoss(split="valid"))

    def evaluate(theta, step):
        calls.append(step)
        return {"log_lr": float(theta["log_lr"])}

    meta_train(lopt, est, MetaTrainConfig(num_steps=4, eval_every=2), str(tmp_path), eval_fn=evaluate)
    assert calls == [2, 4]
    records = read_metrics(tmp_path)
    assert "eval/log_lr" in records[1] and "eval/log_lr" not in records[0]
    assert all(np.isfinite(r["meta_loss"]) for r in records)


def test_meta_optimizer_is_adam_or_adamw():
    """With weight_decay the update is Adam's plus −lr·wd·θ (optax.adamw); without it, plain Adam."""
    theta = {"w": jnp.asarray([2.0, -1.0])}
    grad = {"w": jnp.asarray([0.5, 0.25])}
    adam = MetaTrainConfig(num_steps=1, learning_rate=0.1).meta_optimizer()
    adamw = MetaTrainConfig(num_steps=1, learning_rate=0.1, weight_decay=0.5).meta_optimizer()
    step_adam, _ = adam.update(grad, adam.init(theta), theta)
    step_adamw, _ = adamw.update(grad, adamw.init(theta), theta)
    np.testing.assert_allclose(step_adamw["w"] - step_adam["w"], -0.1 * 0.5 * theta["w"], rtol=1e-6)
    reference, _ = optax.adam(0.1).update(grad, optax.adam(0.1).init(theta), theta)
    np.testing.assert_allclose(step_adam["w"], reference["w"], rtol=1e-6)


def quadratic_pes(**overrides):
    """A seconds-fast estimator: PES of a learned learning rate on a quadratic."""
    return PES(LearnedLR(), lt.SingleTaskFamily(QuadraticTask()), **{"num_tasks": 2, "trunc_length": 2,
                                                                      "inner_length": 4, "std": 0.05, **overrides})


def test_resuming_under_another_configuration_or_fewer_steps_is_refused(tmp_path):
    lopt, est = LearnedLR(), quadratic_pes()
    meta_train(lopt, est, MetaTrainConfig(num_steps=4, checkpoint_every=2), str(tmp_path), run_config={"std": 0.05})
    with pytest.raises(ResumeError, match="std: 0.05 when the run started, 0.1 now"):
        meta_train(lopt, quadratic_pes(std=0.1), MetaTrainConfig(num_steps=6), str(tmp_path), run_config={"std": 0.1})
    with pytest.raises(ResumeError, match=r"has done 4 steps, more than the 2 asked for; ask for 4 or more"):
        meta_train(lopt, est, MetaTrainConfig(num_steps=2), str(tmp_path), run_config={"std": 0.05})
    assert checkpoint.list_steps(str(tmp_path / "checkpoints")) == [2, 4]
    # Without a run_config, the meta-optimizer's settings and the seed are what is compared.
    meta_train(lopt, est, MetaTrainConfig(num_steps=2), str(tmp_path / "default"))
    with pytest.raises(ResumeError, match="learning_rate: 0.001 when the run started, 0.01 now"):
        meta_train(lopt, est, MetaTrainConfig(num_steps=3, learning_rate=1e-2), str(tmp_path / "default"))
    # Settings outside the record (more steps, another checkpoint interval) continue the run.
    state = meta_train(lopt, est, MetaTrainConfig(num_steps=3, checkpoint_every=1), str(tmp_path / "default"))
    assert int(state.step) == 3


def test_a_run_whose_meta_gradients_stay_non_finite_stops_saying_why(tmp_path):
    lopt, est = LearnedLR(), quadratic_pes(std=0.0)  # ES divides by std²: every estimate is 0/0
    config = MetaTrainConfig(num_steps=50, checkpoint_every=100, max_skipped_updates=3)
    with pytest.raises(StalledError, match=r"^meta-training stopped after 3 steps: non-finite meta-gradients for 3 "
                                           r"consecutive steps \(steps 0-2 of metrics.jsonl\)"):
        meta_train(lopt, est, config, str(tmp_path))
    assert checkpoint.list_steps(str(tmp_path / "checkpoints")) == [3]  # the steps done are kept
    assert [r["skipped_update"] for r in read_metrics(tmp_path)] == [1, 1, 1]
    # The count carries over a resumption: with a limit of 4, one more skipped step stops the run.
    with pytest.raises(StalledError, match=r"after 4 steps: non-finite meta-gradients for 4 consecutive steps"):
        meta_train(lopt, est, MetaTrainConfig(num_steps=50, max_skipped_updates=4), str(tmp_path))
    # 0 never stops.
    state = meta_train(lopt, est, MetaTrainConfig(num_steps=6, max_skipped_updates=0), str(tmp_path))
    assert int(state.step) == 6


def test_resuming_skips_a_damaged_newest_checkpoint_and_ends_as_an_uninterrupted_run(tmp_path):
    lopt, est = LearnedLR(), quadratic_pes()
    config = MetaTrainConfig(num_steps=6, checkpoint_every=2)
    whole = meta_train(lopt, est, config, str(tmp_path / "whole"))
    meta_train(lopt, est, config, str(tmp_path / "damaged"), stop_after=4)
    data = tmp_path / "damaged" / "checkpoints" / "step_4.npz"
    data.write_bytes(data.read_bytes()[:100])
    said = []
    resumed = meta_train(lopt, est, config, str(tmp_path / "damaged"), log=said.append)
    assert said[0].startswith("skipped the damaged checkpoint of step 4 for the intact one of step 2: ")
    assert said[1] == "resuming at step 2"
    jax.tree.map(np.testing.assert_array_equal, resumed, whole)
    assert read_metrics(tmp_path / "damaged") == read_metrics(tmp_path / "whole")


def test_a_torn_metrics_line_is_rewritten_and_garbage_is_refused(tmp_path):
    lopt, est = LearnedLR(), quadratic_pes()
    config = MetaTrainConfig(num_steps=4, checkpoint_every=2)
    meta_train(lopt, est, config, str(tmp_path / "whole"))
    meta_train(lopt, est, config, str(tmp_path / "torn"), stop_after=2)
    metrics = tmp_path / "torn" / "metrics.jsonl"
    with open(metrics, "a") as f:
        f.write('{"step": 2, "meta_lo')  # a crash in the middle of step 2's append
    said = []
    meta_train(lopt, est, config, str(tmp_path / "torn"), log=said.append)
    assert any("dropped a torn last line" in m for m in said)
    assert read_metrics(tmp_path / "torn") == read_metrics(tmp_path / "whole")
    metrics.write_text("garbage\n" + metrics.read_text())
    with pytest.raises(MetricsError, match=f"^{metrics}:1: not JSON"):
        meta_train(lopt, est, MetaTrainConfig(num_steps=5, checkpoint_every=2), str(tmp_path / "torn"))
    assert os.path.exists(metrics)
