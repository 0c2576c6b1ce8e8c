"""Runs tools/meta_train on a tiny configuration, resumes it, and checks its error paths."""

import json
import os

import jax
import lopt_pretrained
import numpy as np
import pytest
from absl import flags
from absl.testing import flagsaver

import meta_train

flags.FLAGS.mark_as_parsed()

TINY = dict(lopt="small_fc_lopt", task="digits_mlp", estimator="pes", num_tasks=2, trunc_length=2, inner_length=4,
            checkpoint_every=2)


def test_trains_saves_and_resumes(tmp_path, capsys):
    workdir = str(tmp_path / "run")
    with flagsaver.flagsaver(outer_steps=2, workdir=workdir, **TINY):
        meta_train.main(["meta_train"])
    with flagsaver.flagsaver(outer_steps=4, workdir=workdir, **TINY):
        meta_train.main(["meta_train"])
    err = capsys.readouterr().err
    assert "resuming at step 2" in err and "step 4/4" in err
    with open(os.path.join(workdir, "metrics.jsonl")) as f:
        assert [json.loads(line)["step"] for line in f] == [0, 1, 2, 3]
    assert os.path.exists(os.path.join(workdir, "theta", "entry.json"))
    assert os.path.exists(os.path.join(workdir, "meta_training.png"))
    lopt, theta, metadata = meta_train.la.load_theta(os.path.join(workdir, "theta"))
    assert lopt.name == "small_fc_lopt" and metadata["tasks"] == "task digits_mlp"


def test_several_families_train_as_one_pooled_meta_batch(tmp_path, capsys):
    workdir = str(tmp_path / "families")
    settings = {**TINY, "task": None, "family": ["mlp", "autoencoder"], "structures_per_family": 2, "augment": 0.5,
                "per_task_normalization": True, "outer_steps": 2, "workdir": workdir}
    with flagsaver.flagsaver(**settings):
        meta_train.main(["meta_train"])
    with open(os.path.join(workdir, "metrics.jsonl")) as f:
        records = [json.loads(line) for line in f]
    # Four groups (2 families x 2 structures) of 2 antithetic pairs, 2 steps each.
    assert [r["inner_steps"] for r in records] == [4 * 2 * 2 * 2] * 2
    assert {f"group{i}/meta_loss" for i in range(4)} <= set(records[0])
    _, _, metadata = meta_train.la.load_theta(os.path.join(workdir, "theta"))
    assert metadata["tasks"] == "families mlp,autoencoder (2 structures each) (augmented, p=0.5)"
    assert metadata["estimator"] == "PES" and metadata["meta_training_seconds"] >= 0
    assert metadata["command"].startswith("tools/meta_train")


def test_celo_recipe_pieces_reach_the_run(tmp_path):
    """Celo on the tiny-digits family with log-uniform run lengths; a task spec as --task."""
    workdir = str(tmp_path / "recipe")
    settings = {**TINY, "lopt": "celo", "lopt_config": ["lstm_hidden_size=4"], "task": None, "family": ["tiny_digits"],
                "inner_length": 8, "min_inner_length": 2, "outer_steps": 2, "workdir": workdir,
                "reparam_levels": ["global", "tensor", "parameter"], "meta_weight_decay": 0.1}
    with flagsaver.flagsaver(**settings):
        _, _, estimator, tasks = meta_train.build()
        assert estimator.min_inner_length == 2
        assert tasks == "family tiny_digits (re-parameterised: global,tensor,parameter, scales 1e-3,1e3)"
        (augmentation,) = estimator.family.augmentations
        assert augmentation.levels == ("global", "tensor", "parameter") and augmentation.scale_range == (1e-3, 1e3)
        assert estimator.family.probability == 1.0
        meta_train.main(["meta_train"])
    lopt, _, _ = meta_train.la.load_theta(os.path.join(workdir, "theta"))
    assert lopt.name == "celo" and lopt.lstm_hidden_size == 4
    with flagsaver.flagsaver(**{**TINY, "task": "digits_mlp:hidden_sizes=8:batch_size=16", "workdir": workdir}):
        _, _, estimator, tasks = meta_train.build()
    assert estimator.family.fixed_task.hidden_sizes == (8,) and tasks == "task digits_mlp:hidden_sizes=8:batch_size=16"


def test_tiny_digits_and_tiny_text_make_one_group_per_family_structure(tmp_path):
    """The second Celo fine-tuning recipe's task mixture: each family contributes its own structures."""
    settings = {**TINY, "lopt": "celo", "lopt_config": ["lstm_hidden_size=4"], "task": None,
                "family": ["tiny_digits", "tiny_text"], "structures_per_family": 2, "num_tasks": 2,
                "workdir": str(tmp_path / "mixed")}
    with flagsaver.flagsaver(**settings):
        _, _, estimator, tasks = meta_train.build()
    assert tasks == "families tiny_digits,tiny_text (2 structures each)"
    names = [type(group.family).__name__ for group in estimator.estimators]
    assert names == ["TinyDigitsFamily"] * 2 + ["TinyTextFamily"] * 2


def test_architecture_configuration_and_divergence_penalty_reach_the_run(tmp_path):
    workdir = str(tmp_path / "configured")
    settings = {**TINY, "lopt": "nn_adam",
                "lopt_config": ["initial_learning_rate=3e-3", "lstm_hidden_size=8", "fraction_features=True"],
                "penalize_non_finite": True, "meta_loss_last_fraction": 0.5, "outer_steps": 2, "workdir": workdir}
    with flagsaver.flagsaver(**settings):
        _, _, estimator, _ = meta_train.build()
        meta_train.main(["meta_train"])
    assert estimator.meta_loss.non_finite == "normalizer" and estimator.meta_loss.last_fraction == 0.5
    lopt, theta, _ = meta_train.la.load_theta(os.path.join(workdir, "theta"))
    assert lopt.initial_learning_rate == 3e-3 and lopt.lstm_hidden_size == 8 and lopt.fraction_features
    assert theta["lstm"]["w"].shape == (28 + 8, 32)
    assert theta["lstm_init_state"]["cell"].shape == (1, 8)


def test_train_only_moves_the_named_entries_and_saves_the_whole_theta(tmp_path):
    workdir = str(tmp_path / "partial")
    settings = {**TINY, "lopt": "nn_adam",
                "lopt_config": ["lstm_hidden_size=4", "schedule_knots=3", "initial_learning_rate=1e-3"],
                "train_only": ["schedule"], "outer_steps": 2, "workdir": workdir}
    with flagsaver.flagsaver(**settings):
        _, trained, _, _ = meta_train.build()
        meta_train.main(["meta_train"])
    assert trained.trainable == ("schedule",)
    with flagsaver.flagsaver(**{**settings, "train_only": None}):  # where an unrestricted run of these flags starts
        architecture, _, estimator, _ = meta_train.build()
    config = meta_train.lopt_es.MetaTrainConfig(num_steps=1)
    start = meta_train.lopt_es.init_state(architecture, estimator, config).theta
    lopt, theta, _ = meta_train.la.load_theta(os.path.join(workdir, "theta"))
    assert lopt.name == "nn_adam" and lopt.schedule_knots == 3
    for name in ("lstm", "controls", "initial_hparams", "lstm_init_state"):
        jax.tree_util.tree_map(np.testing.assert_array_equal, theta[name], start[name])
    assert np.abs(np.asarray(theta["schedule"]) - np.asarray(start["schedule"])).max() > 0


def test_init_theta_continues_from_a_saved_theta(tmp_path):
    lopt = meta_train.la.small_fc_lopt()
    before = jax.tree_util.tree_map(lambda x: x + 0.25, lopt.init_meta_params(jax.random.PRNGKey(7)))
    first = str(tmp_path / "first" / "theta")
    meta_train.la.save_theta(first, lopt, before, 5)
    second = str(tmp_path / "second")
    with flagsaver.flagsaver(**{**TINY, "lopt": "small_fc_lopt", "outer_steps": 1, "workdir": second,
                                "meta_learning_rate": 0.0, "init_theta": first}):
        meta_train.main(["meta_train"])
    lopt, after, _ = meta_train.la.load_theta(os.path.join(second, "theta"))
    # At meta-learning rate 0 the run ends where it started: at the saved θ, not at a fresh one.
    assert lopt.name == "small_fc_lopt"
    jax.tree_util.tree_map(np.testing.assert_array_equal, after, before)
    fresh = meta_train.lopt_es.initial_meta_params(lopt, 0)
    assert any(not np.array_equal(a, b) for a, b in zip(jax.tree_util.tree_leaves(after),
                                                          jax.tree_util.tree_leaves(fresh)))


def test_init_theta_with_a_configuration_that_keeps_its_shape(tmp_path):
    """--lopt_config with --init_theta: the saved θ under the changed configuration, recorded in the new θ."""
    lopt = meta_train.la.small_fc_lopt()
    before = lopt.init_meta_params(jax.random.PRNGKey(3))
    first = str(tmp_path / "first" / "theta")
    meta_train.la.save_theta(first, lopt, before, 5)
    second = str(tmp_path / "second")
    with flagsaver.flagsaver(**{**TINY, "lopt": "small_fc_lopt", "outer_steps": 1, "workdir": second,
                                "meta_learning_rate": 0.0, "init_theta": first, "lopt_config": ["step_mult=0.01"]}):
        meta_train.main(["meta_train"])
    lopt, after, _ = meta_train.la.load_theta(os.path.join(second, "theta"))
    assert lopt.step_mult == 0.01 and lopt.hidden_size == 4
    jax.tree_util.tree_map(np.testing.assert_array_equal, after, before)


def test_init_theta_from_a_registry_entry_and_theta_along_the_way(tmp_path):
    """--init_theta=pretrained:<name> starts at the entry's θ; --save_theta_every keeps θ at those steps."""
    workdir = str(tmp_path / "finetune")
    with flagsaver.flagsaver(**{**TINY, "lopt": "small_fc_lopt", "outer_steps": 4, "workdir": workdir,
                                "init_theta": "pretrained:small_fc_lopt_digits_mlp", "save_theta_every": 2}):
        meta_train.main(["meta_train"])
    _, entry, _ = lopt_pretrained.load("small_fc_lopt_digits_mlp")
    steps = os.path.join(workdir, "theta_steps")
    assert sorted(os.listdir(steps)) == ["step_2", "step_4"]
    _, at_2, _ = meta_train.la.load_theta(os.path.join(steps, "step_2"))
    _, at_4, _ = meta_train.la.load_theta(os.path.join(steps, "step_4"))
    _, final, _ = meta_train.la.load_theta(os.path.join(workdir, "theta"))
    jax.tree_util.tree_map(np.testing.assert_array_equal, at_4, final)
    # Two meta-updates from the entry: close to it (Adam moves each leaf ≤ ~lr per step), yet moved.
    moved = [np.abs(np.asarray(a) - np.asarray(b)).max() for a, b in zip(jax.tree_util.tree_leaves(at_2),
                                                                          jax.tree_util.tree_leaves(entry))]
    assert 0 < max(moved) <= 2 * 1e-3 * 1.01


@pytest.mark.parametrize("overrides,message", [
    ({"train_only": ["lstm"]}, "--train_only: partially_trained: small_fc_lopt's θ has no entry 'lstm'; its entries"),
    ({"init_theta": "/nonexistent/theta"}, "--init_theta=/nonexistent/theta: no saved meta-parameters"),
    ({"init_theta": "pretrained:nope"}, "--init_theta=pretrained:nope: no pretrained optimizer 'nope'"),
    ({"init_theta": "pretrained:small_fc_lopt_digits_mlp", "lopt_config": ["hidden_size=3"]},
     "--lopt_config=hidden_size=3 changes the shape of small_fc_lopt's meta-parameters, so "
     "--init_theta=pretrained:small_fc_lopt_digits_mlp cannot start it"),
    ({"lopt_config": ["hidden=3"]}, "small_fc_lopt has no configuration field 'hidden'; fields: exp_mult"),
    ({"lopt_config": ["hidden_size"]}, "--lopt_config item 'hidden_size' is not key=value"),
    ({"lopt_config": ["hidden_size=2.5"]}, "--lopt_config hidden_size=2.5: expected a int, like the default 4"),
    ({"lopt_config": ["step_mult=big"]}, "--lopt_config step_mult: 'big' is not a number or boolean"),
    ({"lopt": "velo9"}, "unknown learned optimizer 'velo9'; choices: celo, celo2, celo_adam, fc_lopt"),
    ({"min_inner_length": 3}, "min_inner_length 3 must be a multiple of trunc_length 2"),
    ({"min_inner_length": 2, "estimator": "full_es"}, "--min_inner_length is for the truncated estimators"),
    ({"task": "digits_mlp:width=3"}, "'width=3' is not field=value with a field of digits_mlp"),
    ({"reparam_levels": ["global"]}, "--reparam_levels augments task families: give --family"),
    ({"family": ["mlp"], "reparam_levels": ["layer"]}, "--reparam_levels/--reparam_range: ReparamAugmentation: levels"),
    ({"family": ["mlp"], "reparam_levels": ["global"], "reparam_range": ["1"]}, "--reparam_range=1: expected two"),
    ({"task": "mnist_cnn"}, "unknown task 'mnist_cnn'; choices: cifar10_autoencoder"),
    ({"family": ["mlp", "cnn"]}, "unknown task family 'cnn'; choices: autoencoder"),
    ({"estimator": "es"}, "unknown estimator 'es'; choices: full_es, pes"),
    ({"inner_length": 5}, "inner_length 5 must be a multiple of trunc_length 2"),
    ({"workdir": None}, "--workdir is required"),
    ({"meta_loss_last_fraction": 0.0}, "--meta_loss_last_fraction=0.0: must be in (0, 1]"),
    ({"std": 0.0}, "--std=0: pes estimates the meta-gradient from perturbations of std --std and divides by std²"),
    ({"lopt_config": ["hidden_size=0"]}, "--lopt_config: small_fc_lopt: hidden_size must be >= 1, got 0."),
    ({"lopt_config": ["hidden_layers=-2"]}, "--lopt_config: small_fc_lopt: hidden_layers must be >= 0, got -2."),
    ({"lopt": "velo", "lopt_config": ["bank_size=-1"]}, "--lopt_config: velo: bank_size must be >= 1, got -1."),
    ({"workdir": "/proc/lopt_workdir"}, "--workdir=/proc/lopt_workdir: cannot create /proc/lopt_workdir: /proc is not "
                                        "writable"),
])
def test_errors_are_one_line(tmp_path, overrides, message):
    settings = {**TINY, "outer_steps": 1, "workdir": str(tmp_path), **overrides}
    with flagsaver.flagsaver(**settings):
        with pytest.raises(SystemExit) as error:
            meta_train.main(["meta_train"])
    text = str(error.value.code)
    assert text.startswith("meta_train: ") and message in text and "\n" not in text


def test_a_workdir_of_another_configuration_is_refused(tmp_path):
    with flagsaver.flagsaver(outer_steps=2, workdir=str(tmp_path), **TINY):
        meta_train.main(["meta_train"])
    with flagsaver.flagsaver(**{**TINY, "num_tasks": 4, "outer_steps": 3, "workdir": str(tmp_path)}):
        with pytest.raises(SystemExit) as error:
            meta_train.main(["meta_train"])
    assert "another configuration" in str(error.value.code) or "shape" in str(error.value.code)


def test_bad_flag_is_one_line():
    with pytest.raises(SystemExit) as error:
        meta_train.parse_flags(["meta_train", "--no_such_flag=1"])
    assert "Unknown command line flag 'no_such_flag'" in str(error.value.code) and "--task" in str(error.value.code)


def one_line_error(**settings) -> str:
    with flagsaver.flagsaver(**settings):
        with pytest.raises(SystemExit) as error:
            meta_train.main(["meta_train"])
    text = str(error.value.code)
    assert text.startswith("meta_train: ") and "\n" not in text, text
    return text


def test_a_resumed_run_must_keep_every_flag_that_changes_the_result(tmp_path):
    workdir = str(tmp_path / "run")
    with flagsaver.flagsaver(outer_steps=2, workdir=workdir, **TINY):
        meta_train.main(["meta_train"])
    for flag, value, recorded, now in [("std", 0.02, "0.01", "0.02"), ("seed", 1, "0", "1"),
                                       ("inner_length", 8, "4", "8"), ("meta_learning_rate", 0.01, "0.001", "0.01"),
                                       ("lopt_config", ["hidden_size=8"], "[]", '["hidden_size=8"]')]:
        text = one_line_error(**{**TINY, "outer_steps": 3, "workdir": workdir, flag: value})
        assert f"{flag}: {recorded} when the run started, {now} now" in text, text
    # Running a 2-step run's workdir for 1 step would return θ of step 2 labelled as step 1.
    assert "has done 2 steps, more than the 1 asked for" in one_line_error(**{**TINY, "outer_steps": 1,
                                                                                "workdir": workdir})
    # Checkpointing and saving θ do not change the result: they may differ, and more steps continue the run.
    with flagsaver.flagsaver(**{**TINY, "outer_steps": 3, "workdir": workdir, "checkpoint_every": 1,
                                "save_theta_every": 3}):
        meta_train.main(["meta_train"])
    _, _, metadata = meta_train.la.load_theta(os.path.join(workdir, "theta"))
    with open(os.path.join(workdir, "config.json")) as f:
        recorded = json.load(f)["config"]
    assert recorded["std"] == 0.01 and "outer_steps" not in recorded and "checkpoint_every" not in recorded
    assert metadata["command"].startswith("tools/meta_train")


def test_damaged_checkpoints_and_metrics(tmp_path, capsys):
    workdir = tmp_path / "run"
    with flagsaver.flagsaver(outer_steps=4, workdir=str(workdir), **TINY):
        meta_train.main(["meta_train"])
    newest = workdir / "checkpoints" / "step_4.npz"
    newest.write_bytes(newest.read_bytes()[:50])
    with open(workdir / "metrics.jsonl", "a") as f:
        f.write('{"step": 4, "meta')  # as if the run had crashed in the middle of appending step 4's line
    capsys.readouterr()
    with flagsaver.flagsaver(outer_steps=4, workdir=str(workdir), **TINY):
        meta_train.main(["meta_train"])
    err = capsys.readouterr().err
    assert "skipped the damaged checkpoint of step 4 for the intact one of step 2" in err
    assert "resuming at step 2" in err and "dropped a torn last line" in err and "step 4/4" in err
    assert [r["step"] for r in meta_train.lopt_es.read_metrics(str(workdir / "metrics.jsonl"))] == [0, 1, 2, 3]
    metrics = workdir / "metrics.jsonl"
    metrics.write_text(metrics.read_text().replace('{"step": 1,', 'garbage {"step": 1,'))
    assert f"{metrics}:2: not JSON" in one_line_error(**{**TINY, "outer_steps": 5, "workdir": str(workdir)})
    for step in (2, 4):
        (workdir / "checkpoints" / f"step_{step}.json").write_text("{")
    text = one_line_error(**{**TINY, "outer_steps": 5, "workdir": str(workdir)})
    assert f"no intact checkpoint in {workdir / 'checkpoints'}" in text and "another --workdir" not in text


def test_a_stalled_run_ends_with_one_line(tmp_path, monkeypatch):
    def stalled(*args, **kwargs):
        raise meta_train.lopt_es.StalledError("meta-training stopped after 20 steps: non-finite meta-gradients "
                                              "for 20 consecutive steps")

    monkeypatch.setattr(meta_train.lopt_es, "meta_train", stalled)
    text = one_line_error(**{**TINY, "outer_steps": 30, "workdir": str(tmp_path)})
    assert text == ("meta_train: meta-training stopped after 20 steps: non-finite meta-gradients for 20 consecutive "
                    "steps")


def test_output_and_input_locations_are_one_line(tmp_path):
    a_file = tmp_path / "file"
    a_file.write_text("x")
    assert f"--workdir={a_file}: {a_file} is a file, not a directory" in one_line_error(
        **{**TINY, "workdir": str(a_file)})
    theta = tmp_path / "theta"
    theta.mkdir()
    (theta / "step_5.json").write_text("not json")
    text = one_line_error(**{**TINY, "init_theta": str(theta), "workdir": str(tmp_path / "run")})
    assert f"--init_theta={theta}: no intact checkpoint in {theta}: {theta}/step_5.json: unreadable manifest" in text
