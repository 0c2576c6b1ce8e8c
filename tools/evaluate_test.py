"""Runs tools/evaluate on tiny settings and checks its output and error paths."""

import json
import os

import lopt_pretrained
import pytest
from absl import flags
from absl.testing import flagsaver

import evaluate
import meta_train

flags.FLAGS.mark_as_parsed()


def test_evaluates_a_meta_trained_checkpoint(tmp_path, capsys):
    workdir = str(tmp_path / "run")
    with flagsaver.flagsaver(lopt="small_fc_lopt", task="digits_mlp", estimator="pes", num_tasks=2, trunc_length=2,
                             inner_length=6, outer_steps=1, workdir=workdir):
        meta_train.main(["meta_train"])
    out = str(tmp_path / "eval")
    with flagsaver.flagsaver(optimizer=f"checkpoint:{workdir}/theta", tasks=["digits_mlp", "family:mlp:1"], seeds=2,
                             baseline_multiple=2, out=out):
        evaluate.main(["evaluate"])
    printed = capsys.readouterr().out
    assert "small_fc_lopt" in printed and "family:mlp:1" in printed and "x adam" in printed
    with open(os.path.join(out, "results.json")) as f:
        document = json.load(f)
    assert document["config"]["num_steps"] == 6  # the checkpoint's meta-training horizon
    # What was evaluated: the θ in the checkpoint, by architecture, configuration (as the checkpoint's manifest
    # stores it) and digest.
    _, theta, saved = lopt_pretrained.load_theta_dir(f"{workdir}/theta")
    assert document["config"]["candidate_identity"] == {
        "kind": "learned", "architecture": "small_fc_lopt", "config": saved["config"],
        "theta_sha256": lopt_pretrained.theta_sha256(theta)}
    assert {r["role"] for r in document["runs"]} == {"candidate", "baseline", "trial"}
    assert sorted(os.listdir(out)) == [
        "digits_mlp.png", "digits_mlp_loss_vs_memory.png", "digits_mlp_loss_vs_time.png", "family_mlp_1.png",
        "family_mlp_1_loss_vs_memory.png", "family_mlp_1_loss_vs_time.png", "results.json", "speedups.png"]


@pytest.mark.parametrize("overrides,message", [
    ({"optimizer": "adamx"},
     "unknown optimizer 'adamx'; choices: checkpoint:<dir>, pretrained:<name>, reference:<arch>:<file>, adabelief"),
    ({"optimizer": "checkpoint:/nonexistent/x"}, "no checkpoint directory '/nonexistent/x'"),
    ({"optimizer": "pretrained:nope"}, "cannot load pretrained optimizer 'nope': no pretrained optimizer 'nope'; known: "),
    ({"optimizer": "sgd"}, "--steps is required"),
    ({"optimizer": "sgd", "steps": 2, "tasks": []}, "--tasks is empty"),
    ({"optimizer": "sgd", "suite": "heldout"}, "unknown suite 'heldout'; known: heldout-v1"),
    ({"optimizer": "sgd", "suite": "heldout-v1", "steps": 3},
     "--suite sets the tasks, steps, seeds and baseline multiple; drop --steps"),
    ({"optimizer": "sgd", "suite": "heldout-v1", "baseline_multiple": 3}, ", --baseline_multiple"),
    ({"optimizer": "reference:celo", "steps": 2}, "reference weights are reference:<arch>:<file>"),
    ({"optimizer": "reference:celo:/no/such/theta.state", "steps": 2}, "cannot load celo weights from"),
    ({"optimizer": "reference:celo9:/no/such/theta.state", "steps": 2}, "unknown learned optimizer 'celo9'"),
    ({"optimizer": "sgd", "steps": 2, "tasks": ["mnist_cnn"]}, "unknown task 'mnist_cnn'; choices: cifar10_autoencoder"),
    ({"optimizer": "sgd", "steps": 2, "tasks": ["family:cnn:1"]}, "unknown task family 'cnn'"),
    ({"optimizer": "sgd", "steps": 2, "tasks": ["family:mlp"]}, "sampled tasks are family:<name>:<seed>"),
    ({"optimizer": "sgd", "steps": 2, "tasks": ["digits_mlp:width=32"]},
     "'width=32' is not field=value with a field of digits_mlp: batch_size, dataset, hidden_sizes, image_size"),
    ({"optimizer": "sgd", "steps": 2, "tasks": ["digits_mlp:hidden_sizes=32,32"]}, "cannot read hidden_sizes='32,32'"),
    ({"optimizer": "sgd", "steps": 2, "tasks": ["digits_mlp:batch_size=0"]}, "cannot read batch_size='0'"),
    ({"optimizer": "sgd", "steps": 2, "tasks": ["digits_mlp:name=x"]}, "'name=x' is not field=value"),
    ({"optimizer": "sgd", "steps": 2, "tasks": ["digit_mlp:batch_size=3"]}, "unknown task 'digit_mlp'"),
    ({"optimizer": "sgd", "steps": 2, "baselines": ["adamx"]}, "unknown baseline 'adamx'"),
    ({"optimizer": "sgd", "steps": 2, "out": None}, "--out is required"),
    ({"optimizer": "sgd", "steps": 2, "stored_baselines_only": True}, "--stored_baselines_only needs --baseline_cache"),
    ({"optimizer": "sgd", "steps": 2, "tasks": ["fashion_mnist_mlp"]}, "fashion_mnist"),
    ({"optimizer": "sgd", "steps": 2, "tasks": ["digits_mlp:dataset=nope"]},
     "task 'digits_mlp:dataset=nope': unknown image dataset 'nope'; known: cifar10, digits"),
    ({"optimizer": "sgd", "steps": 2, "tasks": ["digits_mlp:image_size=100"]},
     "task 'digits_mlp:image_size=100': image_size must be (height, width), two positive integers"),
    ({"optimizer": "sgd", "steps": 2, "out": "/proc/lopt_eval"},
     "--out=/proc/lopt_eval: cannot create /proc/lopt_eval: /proc is not writable"),
])
def test_errors_are_one_line(tmp_path, overrides, message):
    settings = {"out": str(tmp_path / "eval"), "seeds": 1, "data_dir": str(tmp_path / "no_data"), **overrides}
    with flagsaver.flagsaver(**settings):
        with pytest.raises(SystemExit) as error:
            evaluate.main(["evaluate"])
    text = str(error.value.code)
    assert text.startswith("evaluate: ") and message in text and "\n" not in text, text


def test_pretrained_optimizers_default_to_their_horizon():
    for name in evaluate.lopt_pretrained.names():
        label, make, steps, identity = evaluate.resolve_optimizer(f"pretrained:{name}")
        assert label == f"pretrained:{name}" and steps == evaluate.lopt_pretrained.info(name)["inner_length"]
        assert callable(make().update)
        info = lopt_pretrained.info(name)  # an older entry omits fields added since (at their defaults)
        assert identity["architecture"] == info["lopt"]
        assert {k: identity["config"][k] for k in info["config"]} == info["config"]


def test_identities_of_hand_designed_and_reference_candidates(tmp_path):
    with flagsaver.flagsaver(learning_rate=0.01):
        assert evaluate.resolve_optimizer("adam").identity == {
            "kind": "hand_designed", "name": "adam", "hyperparameters": {"learning_rate": 0.01}}
    # A reference weights file and the registry entry made from it are the same θ: the same identity.
    _, theta, _ = lopt_pretrained.load("celo")
    weights = tmp_path / "theta.state"
    lopt_pretrained.write_flax_msgpack(weights, lopt_pretrained.to_reference("celo", theta))
    from_file = evaluate.resolve_optimizer(f"reference:celo:{weights}").identity
    assert from_file == evaluate.resolve_optimizer("pretrained:celo").identity
    assert from_file["theta_sha256"] == lopt_pretrained.theta_sha256(theta)


def test_bad_flag_is_one_line():
    with pytest.raises(SystemExit) as error:
        evaluate.parse_flags(["evaluate", "--no_such_flag=1"])
    text = str(error.value.code)
    assert "Unknown command line flag 'no_such_flag'" in text and "--optimizer" in text and "\n" not in text


def test_task_variants_replace_fields_and_keep_the_spec_as_their_name():
    variant = evaluate.resolve_task("digits_mlp:hidden_sizes=32x32x32:batch_size=32")
    base = evaluate.resolve_task("digits_mlp")
    assert (variant.hidden_sizes, variant.batch_size, variant.dataset) == ((32, 32, 32), 32, base.dataset)
    assert variant.name == "digits_mlp:hidden_sizes=32x32x32:batch_size=32" and base.hidden_sizes == (128, 128)
    assert evaluate.resolve_task("digits_mlp:hidden_sizes=()").hidden_sizes == ()
    assert evaluate.resolve_task("digits_conv:channels=8x16").channels == (8, 16)
    # The variant is a different model: 32-wide layers have fewer parameters than the 128-wide default.
    import jax
    count = lambda task: sum(x.size for x in jax.tree_util.tree_leaves(task.init(jax.random.PRNGKey(0))))
    assert count(evaluate.resolve_task("digits_mlp:hidden_sizes=32x32")) == 64 * 32 + 32 + 32 * 32 + 32 + 32 * 10 + 10


def test_suite_sets_tasks_steps_and_seeds(tmp_path, monkeypatch):
    seen = {}

    class Stop(Exception):
        pass

    def fake_evaluate(name, make, tasks, config, **kwargs):
        seen.update(tasks=list(tasks), steps=config.num_steps, seeds=config.seeds, cache=kwargs["baseline_cache_dir"],
                    multiple=config.baseline_multiple, unroll=config.task_scan_unroll)
        raise Stop

    monkeypatch.setattr(evaluate.evaluation, "evaluate", fake_evaluate)
    with flagsaver.flagsaver(optimizer="sgd", suite="validation-v1", out=str(tmp_path), baseline_cache=str(tmp_path)):
        with pytest.raises(Stop):
            evaluate.main(["evaluate"])
    suite = evaluate.lopt_eval.suites.get_suite("validation-v1")
    assert seen == {"tasks": list(suite.tasks), "steps": 1000, "seeds": suite.seeds, "cache": str(tmp_path),
                    "multiple": 1, "unroll": suite.scan_unroll}
    # The held-out suite measures speedups: its sweeps run twice the horizon (part of the stored baselines' key).
    with flagsaver.flagsaver(optimizer="sgd", suite="heldout-v1", out=str(tmp_path), baseline_cache=str(tmp_path)):
        with pytest.raises(Stop):
            evaluate.main(["evaluate"])
    assert seen["multiple"] == 2 and seen["steps"] == 1000
    assert seen["unroll"] == evaluate.lopt_eval.suites.get_suite("heldout-v1").scan_unroll


def test_bad_locations_are_one_line_before_any_compute(tmp_path, monkeypatch):
    def no_compute(*args, **kwargs):
        raise AssertionError("evaluated before checking --out")

    monkeypatch.setattr(evaluate.evaluation, "evaluate", no_compute)
    a_file = tmp_path / "file"
    a_file.write_text("x")
    damaged = tmp_path / "theta"
    damaged.mkdir()
    (damaged / "step_3.json").write_text("{garbage")
    for settings, message in [
        ({"optimizer": "sgd", "out": str(a_file)}, f"--out={a_file}: {a_file} is a file, not a directory"),
        ({"optimizer": "sgd", "out": str(a_file / "eval")}, f"cannot create {a_file / 'eval'}: {a_file} is a file"),
        ({"optimizer": f"checkpoint:{damaged}", "out": str(tmp_path / "eval")},
         f"no intact checkpoint in {damaged}: {damaged}/step_3.json: unreadable manifest"),
    ]:
        with flagsaver.flagsaver(steps=2, seeds=1, **settings):
            with pytest.raises(SystemExit) as error:
                evaluate.main(["evaluate"])
        text = str(error.value.code)
        assert text.startswith("evaluate: ") and message in text and "\n" not in text, text
    assert not (tmp_path / "eval").exists()
