"""tools/select_checkpoint on two saved θ of a tiny validation suite."""

import json

import jax
import lopt_architectures as la
import pytest
from absl import flags
from absl.testing import flagsaver
from lopt_eval import suites

import select_checkpoint

flags.FLAGS.mark_as_parsed()

TINY = suites.Suite("tiny-validation", "validation", ("digits_mlp:hidden_sizes=8:batch_size=16",), 6, (0, 1))


@pytest.fixture
def theta_dir(tmp_path, monkeypatch):
    monkeypatch.setitem(suites.SUITES, TINY.name, TINY)
    lopt = la.small_fc_lopt()
    theta = lopt.init_meta_params(jax.random.PRNGKey(0))
    # Step 20: the same θ with its step multiplier's weights scaled up (bigger steps): a different optimizer.
    bold = jax.tree.map(lambda x: x, theta)
    bold["mlp"]["w2"] = theta["mlp"]["w2"] * 50.0
    la.save_theta(str(tmp_path / "a"), lopt, theta, 10)
    la.save_theta(str(tmp_path / "b"), lopt, bold, 20)
    return [str(tmp_path / "a"), str(tmp_path / "b")], tmp_path


def test_scores_every_checkpoint_and_writes_the_choice(theta_dir, capsys):
    directory, tmp_path = theta_dir
    out = tmp_path / "selection.json"
    with flagsaver.flagsaver(theta_dirs=directory, suite=TINY.name, baseline_cache=str(tmp_path / "cache"),
                             out=str(out)):
        select_checkpoint.main(["select_checkpoint"])
    selection = json.loads(out.read_text())
    assert [row["step"] for row in selection["candidates"]] == [10, 20]
    assert selection["suite"] == TINY.name and selection["num_steps"] == 6
    ranked = sorted(selection["candidates"], key=select_checkpoint.rank_key)
    assert selection["selected"] == ranked[0]["theta_dir"]
    assert ranked[0]["iqm_ratio"] <= ranked[1]["iqm_ratio"]
    assert f"selected {selection['selected']}" in capsys.readouterr().out
    assert len(list((tmp_path / "cache").iterdir())) == 1  # Adam tuned once for both checkpoints


def test_rank_prefers_fewer_divergences_then_lower_ratio():
    rows = [{"index": 0, "iqm_ratio": 0.5, "wins": 3, "diverged": 1},
            {"index": 1, "iqm_ratio": 0.9, "wins": 0, "diverged": 0},
            {"index": 2, "iqm_ratio": 0.8, "wins": 0, "diverged": 0},
            {"index": 3, "iqm_ratio": float("nan"), "wins": 5, "diverged": 0},
            {"index": 4, "iqm_ratio": 0.8, "wins": 1, "diverged": 0}]
    assert [r["index"] for r in sorted(rows, key=select_checkpoint.rank_key)] == [4, 2, 1, 3, 0]


@pytest.mark.parametrize("overrides, message", [
    ({"theta_dirs": None}, "--theta_dirs is required"),
    ({"suite": "heldout-v1"}, "is a held_out suite; checkpoints are selected on a validation suite only"),
    ({"theta_dirs": ["/nonexistent"]}, "no saved meta-parameters in /nonexistent"),
    ({"theta_dirs": ["pretrained:nope"]}, "pretrained:nope: no pretrained optimizer 'nope'"),
])
def test_errors(theta_dir, overrides, message):
    directory, _ = theta_dir
    with flagsaver.flagsaver(**{"theta_dirs": directory, "suite": TINY.name, **overrides}):
        with pytest.raises(SystemExit) as error:
            select_checkpoint.main(["select_checkpoint"])
    assert message in str(error.value.code)


def test_a_registry_entry_is_a_candidate(theta_dir):
    """pretrained:<name> competes with saved θ, e.g. the entry a fine-tuning run started from."""
    directory, tmp_path = theta_dir
    out = tmp_path / "selection.json"
    with flagsaver.flagsaver(theta_dirs=["pretrained:small_fc_lopt_digits_mlp", directory[0]], suite=TINY.name,
                             baseline_cache=str(tmp_path / "cache"), out=str(out)):
        select_checkpoint.main(["select_checkpoint"])
    rows = json.loads(out.read_text())["candidates"]
    assert [(r["theta_dir"], r["step"]) for r in rows] == [("pretrained:small_fc_lopt_digits_mlp", 0),
                                                           (directory[0], 10)]
    assert rows[0]["iqm_ratio"] != rows[1]["iqm_ratio"]  # two different optimizers were run
