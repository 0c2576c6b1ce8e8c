"""Runs list_tasks on offline tasks with tiny repetition counts and checks the printed rows."""

import re

import lopt_tasks
import pytest
from lopt_tasks import SingleTaskFamily, fixed, testing
from absl import flags
from absl.testing import flagsaver

import list_tasks

flags.FLAGS.mark_as_parsed()  # use the defaults; tests override them with flagsaver

ROW = re.compile(r"^(\S+)\s+(task|family)\s+([\d,]+(?: / [\d,]+)*)\s+(data missing|[\d.]+(?: / [\d.]+)*)\s+(data missing|[\d.]+(?: / [\d.]+)*)$", re.M)


def rows(out):
    return {m.group(1): m.groups()[1:] for m in ROW.finditer(out)}


def test_prints_params_and_times_of_offline_tasks(capsys):
    with flagsaver.flagsaver(names=["digits_mlp", "digits_autoencoder"], timing_runs=2):
        list_tasks.main(["list_tasks"])
    printed = rows(capsys.readouterr().out)
    assert set(printed) == {"digits_mlp", "digits_autoencoder"}
    kind, params, step_ms, batch_ms = printed["digits_mlp"]
    assert kind == "task" and params == "26,122"
    assert float(step_ms) > 0 and float(batch_ms) > 0
    assert printed["digits_autoencoder"][1] == f"{testing.param_count(fixed.digits_autoencoder()):,}"


def test_missing_data_is_a_row_not_a_traceback(capsys, tmp_path):
    with flagsaver.flagsaver(names=["fashion_mnist_mlp"], timing_runs=1, data_dir=str(tmp_path)):
        list_tasks.main(["list_tasks"])
    assert rows(capsys.readouterr().out)["fashion_mnist_mlp"] == ("task", "118,282", "data missing", "data missing")


def test_families_show_the_spread_of_sampled_configs(capsys, monkeypatch):
    # A stand-in family (the registered ones are tested where they are defined).
    monkeypatch.setitem(lopt_tasks.FAMILIES, "digits_mlp_family", lambda **kw: SingleTaskFamily(fixed.digits_mlp(**kw)))
    with flagsaver.flagsaver(names=["digits_mlp_family"], timing_runs=1, family_samples=3):
        list_tasks.main(["list_tasks"])
    kind, params, step_ms, _ = rows(capsys.readouterr().out)["digits_mlp_family"]
    assert kind == "family" and params == "26,122 / 26,122 / 26,122" and step_ms.count(" / ") == 2


def test_unknown_names_and_flags_exit_with_one_line_listing_the_choices():
    with flagsaver.flagsaver(names=["digits_mlp", "nope"]):
        with pytest.raises(SystemExit) as error:
            list_tasks.main(["list_tasks"])
    message = str(error.value.code)
    assert "\n" not in message and "unknown names nope; choices: " in message
    assert "cifar10_conv" in message and "digits_mlp" in message and "resnet" in message
    with pytest.raises(SystemExit) as error:
        list_tasks.parse_flags(["list_tasks", "--tasks=digits_mlp"])
    message = str(error.value.code)
    assert "\n" not in message and "Unknown command line flag 'tasks'" in message and "--names" in message


def test_generated_data_times_tfds_tasks(capsys, tmp_path):
    with flagsaver.flagsaver(names=["fashion_mnist_mlp"], timing_runs=1, mock_examples=160, data_dir=str(tmp_path)):
        list_tasks.main(["list_tasks"])
    out = capsys.readouterr().out
    _, params, step_ms, batch_ms = rows(out)["fashion_mnist_mlp"]
    assert params == "118,282" and float(step_ms) > 0 and float(batch_ms) > 0
    assert "tfds data generated (160 examples per split)" in out
