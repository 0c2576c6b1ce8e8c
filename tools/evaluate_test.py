"""Runs tools/evaluate on tiny settings and checks its output and error paths."""

import json
import os

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
    assert {r["role"] for r in document["runs"]} == {"candidate", "baseline", "trial"}
    assert sorted(os.listdir(out)) == [
        "digits_mlp.png", "digits_mlp_loss_vs_memory.png", "digits_mlp_loss_vs_time.png", "family_mlp_1.png",
        "family_mlp_1_loss_vs_memory.png", "family_mlp_1_loss_vs_time.png", "results.json", "speedups.png"]


@pytest.mark.parametrize("overrides,message", [
    ({"optimizer": "adamx"}, "unknown optimizer 'adamx'; choices: checkpoint:<dir>, pretrained:<name>, adabelief"),
    ({"optimizer": "checkpoint:/nonexistent/x"}, "no checkpoint directory '/nonexistent/x'"),
    ({"optimizer": "pretrained:nope"}, "cannot load pretrained optimizer 'nope': no pretrained optimizer 'nope'; known: "),
    ({"optimizer": "sgd"}, "--steps is required"),
    ({"optimizer": "sgd", "steps": 2, "tasks": ["mnist_cnn"]}, "unknown task 'mnist_cnn'; choices: cifar10_autoencoder"),
    ({"optimizer": "sgd", "steps": 2, "tasks": ["family:cnn:1"]}, "unknown task family 'cnn'"),
    ({"optimizer": "sgd", "steps": 2, "tasks": ["family:mlp"]}, "sampled tasks are family:<name>:<seed>"),
    ({"optimizer": "sgd", "steps": 2, "baselines": ["adamx"]}, "unknown baseline 'adamx'"),
    ({"optimizer": "sgd", "steps": 2, "out": None}, "--out is required"),
    ({"optimizer": "sgd", "steps": 2, "tasks": ["fashion_mnist_mlp"]}, "fashion_mnist"),
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
        label, make, steps = evaluate.resolve_optimizer(f"pretrained:{name}")
        assert label == f"pretrained:{name}" and steps == evaluate.lopt_pretrained.info(name)["inner_length"]
        assert callable(make().update)


def test_bad_flag_is_one_line():
    with pytest.raises(SystemExit) as error:
        evaluate.parse_flags(["evaluate", "--no_such_flag=1"])
    text = str(error.value.code)
    assert "Unknown command line flag 'no_such_flag'" in text and "--optimizer" in text and "\n" not in text
