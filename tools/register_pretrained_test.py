"""tools/register_pretrained: an entry from a meta-training directory and an evaluation; its error paths."""

import hashlib
import json
import os

import jax
import lopt_architectures as la
import lopt_es
import lopt_eval
import lopt_pretrained
import numpy as np
import pytest
from absl import flags
from absl.testing import flagsaver

import register_pretrained

flags.FLAGS.mark_as_parsed()

HORIZON = 10


@pytest.fixture
def run(tmp_path):
    """A meta-training directory (θ, 1234 metric lines, a plot) and an evaluation at the horizon."""
    workdir = tmp_path / "run"
    lopt = la.small_fc_lopt()
    theta = lopt.init_meta_params(jax.random.PRNGKey(0))
    lopt_es.save_meta_params(str(workdir / "theta"), lopt, theta, 1234, tasks="task digits_mlp", estimator="PES",
                             inner_length=HORIZON, command="tools/meta_train --lopt=small_fc_lopt",
                             meta_training_seconds=300)
    with open(workdir / "metrics.jsonl", "w") as f:
        for step in range(1234):
            f.write(json.dumps({"step": step, "meta_loss": 2.0 - step / 1000, "inner_loss": 1.0}) + "\n")
    (workdir / "meta_training.png").write_bytes(b"\x89PNG" + bytes(2000))
    evaluation = tmp_path / "evaluation"
    os.makedirs(evaluation)
    candidate = "small_fc_lopt (run)"
    summary = [
        lopt_eval.Summary(candidate, "digits_mlp", 0.1, 0.01, {"value": 2.0, "bound": None, "baseline": "adam"}),
        lopt_eval.Summary("adam", "digits_mlp", 0.2, 0.02, None),
        lopt_eval.Summary(candidate, "family:mlp:1", float("nan"), float("nan"), None),
        lopt_eval.Summary("adam", "family:mlp:1", 0.3, 0.03, None),
    ]
    curve = np.linspace(2.0, 0.5, HORIZON)[None].repeat(2, 0)
    runs = [lopt_eval.Run(candidate, "digits_mlp", "candidate", {}, HORIZON, [0, 1], curve, 1e-3, [1.0, 1.0]),
            lopt_eval.Run("adam", "digits_mlp", "baseline", {"learning_rate": 0.01}, HORIZON, [0, 1], curve, 1e-3, [1.0, 1.0]),
            lopt_eval.Run("adam", "digits_mlp", "trial", {"learning_rate": 0.1}, HORIZON, [0, 1], curve, 1e-3, [1.0, 1.0])]
    results = lopt_eval.Results(config={"num_steps": HORIZON, "seeds": [0, 1], "baselines": ["adam"],
                                        "candidate": candidate}, runs=runs, summary=summary, versions={"lopt-es": "0.1.0"})
    lopt_eval.save(str(evaluation / "results.json"), results)
    (evaluation / "digits_mlp.png").write_bytes(b"\x89PNG" + bytes(2000))
    return tmp_path, lopt, theta


def register(tmp_path, **overrides):
    settings = dict(entry="mine", meta_train_dir=str(tmp_path / "run"), evaluation_dir=[str(tmp_path / "evaluation")],
                    registry=str(tmp_path / "registry"), description="for tests")
    with flagsaver.flagsaver(**{**settings, **overrides}):
        register_pretrained.main(["register_pretrained"])


def test_registers_an_entry_that_loads(run):
    tmp_path, lopt, theta = run
    register(tmp_path)
    loaded, restored, entry = lopt_pretrained.load("mine", directory=str(tmp_path / "registry"))
    assert loaded == lopt
    jax.tree_util.tree_map(np.testing.assert_array_equal, theta, restored)
    assert entry["inner_length"] == HORIZON and entry["description"] == "for tests"
    assert entry["training"]["outer_steps"] == 1234 and entry["training"]["meta_training_seconds"] == 300
    assert entry["training"]["command"] == "tools/meta_train --lopt=small_fc_lopt"
    rows = {row["task"]: row for row in entry["evaluation"]["tasks"]}
    assert rows["digits_mlp"]["final_loss"] == 0.1 and rows["digits_mlp"]["adam_final_loss"] == 0.2
    assert rows["digits_mlp"]["speedup"]["value"] == 2.0
    assert rows["family:mlp:1"]["final_loss"] is None  # a diverged candidate, not a number
    assert sorted(entry["plots"]) == ["digits_mlp.png", "meta_training.png"]
    directory = tmp_path / "registry" / "mine"
    curve = json.loads((directory / "meta_training.json").read_text())
    # 1234 steps in blocks of 3: 412 points; the first block averages steps 0-2.
    assert curve["block_steps"] == 3 and len(curve["step"]) == 412 and curve["step"][-1] == 1234
    np.testing.assert_allclose(curve["meta_loss"][0], 2.0 - 1 / 1000)
    shipped = lopt_eval.load(str(directory / "results.json"))
    assert shipped.config["num_steps"] == HORIZON and len(shipped.summary) == 4
    assert [r.role for r in shipped.runs] == ["candidate", "baseline"]  # the unselected trial is left out
    assert not [p for p in os.listdir(tmp_path / "registry") if p.startswith(".tmp")]
    card = (directory / "README.md").read_text()  # the model card, written with the entry
    assert f'lopt_pretrained.optax("mine", num_training_steps={HORIZON})' in card
    assert "- T = 10, against tuned adam: wins 0/1; losses: digits_mlp" in card


def test_several_evaluations_are_merged_into_one(run):
    tmp_path, _, _ = run
    first = lopt_eval.load(str(tmp_path / "evaluation" / "results.json"))
    first.config["tasks"] = ["digits_mlp", "family:mlp:1"]
    lopt_eval.save(str(tmp_path / "evaluation" / "results.json"), first)
    later = tmp_path / "later"
    os.makedirs(later)
    candidate = "pretrained:mine"  # the same θ, evaluated through the registry under another name
    curve = np.linspace(1.0, 0.2, HORIZON)[None].repeat(2, 0)
    lopt_eval.save(str(later / "results.json"), lopt_eval.Results(
        config={"num_steps": HORIZON, "seeds": [0, 1], "baselines": ["adam"], "candidate": candidate,
                "tasks": ["digits_conv"], "baseline_multiple": 1},
        runs=[lopt_eval.Run(candidate, "digits_conv", "candidate", {}, HORIZON, [0, 1], curve, 1e-3, [1.0, 1.0])],
        summary=[lopt_eval.Summary(candidate, "digits_conv", 0.4, 0.01, {"value": 1.0, "bound": "upper",
                                                                         "baseline": "adam"}),
                 lopt_eval.Summary("adam", "digits_conv", 0.3, 0.01, None)]))
    (later / "digits_conv.png").write_bytes(b"\x89PNG" + bytes(2000))
    (later / "speedups.png").write_bytes(b"\x89PNG" + bytes(2000))  # of that part alone: drawn again
    register(tmp_path, evaluation_dir=[str(tmp_path / "evaluation"), str(later)])
    entry = lopt_pretrained.info("mine", directory=str(tmp_path / "registry"))
    assert [row["task"] for row in entry["evaluation"]["tasks"]] == ["digits_mlp", "family:mlp:1", "digits_conv"]
    conv = entry["evaluation"]["tasks"][2]
    assert conv["final_loss"] == 0.4 and conv["adam_final_loss"] == 0.3
    assert sorted(entry["plots"]) == ["digits_conv.png", "digits_mlp.png", "meta_training.png", "speedups.png"]
    directory = tmp_path / "registry" / "mine"
    assert (directory / "speedups.png").stat().st_size != 2004  # the merged plot, not the part's
    shipped = lopt_eval.load(str(directory / "results.json"))
    assert shipped.config["tasks"] == ["digits_mlp", "family:mlp:1", "digits_conv"]
    assert [part.get("baseline_multiple") for part in shipped.config["parts"]] == [None, 1]


def later_evaluation(tmp_path, task="digits_conv", candidate="pretrained:mine"):
    """A results directory of the same θ on one more task (as tools/evaluate writes it)."""
    later = tmp_path / f"later_{task}"
    os.makedirs(later)
    curve = np.linspace(1.0, 0.2, HORIZON)[None].repeat(2, 0)
    lopt_eval.save(str(later / "results.json"), lopt_eval.Results(
        config={"num_steps": HORIZON, "seeds": [0, 1], "baselines": ["adam"], "candidate": candidate, "tasks": [task]},
        runs=[lopt_eval.Run(candidate, task, "candidate", {}, HORIZON, [0, 1], curve, 1e-3, [1.0, 1.0])],
        summary=[lopt_eval.Summary(candidate, task, 0.25, 0.01, {"value": 1.5, "bound": None, "baseline": "adam"}),
                 lopt_eval.Summary("adam", task, 0.3, 0.01, None)]))
    (later / f"{task}.png").write_bytes(b"\x89PNG" + bytes(2000))
    (later / "speedups.png").write_bytes(b"\x89PNG" + bytes(2000))
    return str(later)


def test_an_evaluation_is_added_to_an_entry_keeping_its_weights_and_record(run):
    tmp_path, _, theta = run
    first = lopt_eval.load(str(tmp_path / "evaluation" / "results.json"))
    first.config["tasks"] = ["digits_mlp", "family:mlp:1"]  # as tools/evaluate writes it
    lopt_eval.save(str(tmp_path / "evaluation" / "results.json"), first)
    register(tmp_path)
    directory = tmp_path / "registry" / "mine"
    before = json.loads((directory / "entry.json").read_text())
    weights = (directory / "theta.npz").read_bytes()
    register(tmp_path, meta_train_dir=None, add_evaluation=True, evaluation_dir=[later_evaluation(tmp_path)])
    after = json.loads((directory / "entry.json").read_text())
    assert (directory / "theta.npz").read_bytes() == weights
    assert after["training"] == before["training"] and after["description"] == "for tests"
    assert after["inner_length"] == HORIZON
    assert [row["task"] for row in after["evaluation"]["tasks"]] == ["digits_mlp", "family:mlp:1", "digits_conv"]
    assert after["evaluation"]["tasks"][2]["final_loss"] == 0.25
    assert after["evaluation"]["tasks"][0] == before["evaluation"]["tasks"][0]
    assert sorted(after["plots"]) == ["digits_conv.png", "digits_mlp.png", "meta_training.png", "speedups.png"]
    assert json.loads((directory / "meta_training.json").read_text())["step"][-1] == 1234
    shipped = lopt_eval.load(str(directory / "results.json"))
    assert shipped.config["tasks"] == ["digits_mlp", "family:mlp:1", "digits_conv"]
    _, loaded, _ = lopt_pretrained.load("mine", directory=str(tmp_path / "registry"))
    for a, b in zip(jax.tree_util.tree_leaves(loaded), jax.tree_util.tree_leaves(theta)):
        np.testing.assert_array_equal(a, b)
    # The same task twice is refused and leaves the entry as it was.
    with pytest.raises(SystemExit, match="cannot merge"):
        register(tmp_path, meta_train_dir=None, add_evaluation=True,
                 evaluation_dir=[later_evaluation(tmp_path, task="digits_mlp")])
    assert json.loads((directory / "entry.json").read_text()) == after


@pytest.mark.parametrize("overrides,message", [
    ({"entry": "other"}, "no entry 'other' in"),
    ({"meta_train_dir": "x"}, "--add_evaluation keeps the entry's θ and training record; drop --meta_train_dir"),
])
def test_adding_an_evaluation_needs_an_entry_and_no_meta_training(run, overrides, message):
    tmp_path, _, _ = run
    register(tmp_path)
    with pytest.raises(SystemExit) as error:
        register(tmp_path, **{"meta_train_dir": None, "add_evaluation": True,
                              "evaluation_dir": [later_evaluation(tmp_path)], **overrides})
    assert message in str(error.value.code)


def test_existing_entry_needs_replace(run):
    tmp_path, _, _ = run
    register(tmp_path)
    with pytest.raises(SystemExit, match="exists .* pass --replace_entry"):
        register(tmp_path)
    register(tmp_path, replace_entry=True, description="again")
    assert lopt_pretrained.info("mine", directory=str(tmp_path / "registry"))["description"] == "again"


@pytest.mark.parametrize("overrides,message", [
    ({"entry": None}, "--entry is required"),
    ({"entry": "a b"}, "entry name 'a b'"),
    ({"meta_train_dir": "/nonexistent"}, "no meta-trained optimizer in /nonexistent"),
    ({"evaluation_dir": ["/nonexistent"]}, "cannot read the evaluation"),
])
def test_errors_are_one_line(run, overrides, message):
    tmp_path, _, _ = run
    with pytest.raises(SystemExit) as error:
        register(tmp_path, **overrides)
    text = str(error.value.code)
    assert text.startswith("register_pretrained: ") and message in text and "\n" not in text
    assert not os.path.exists(tmp_path / "registry" / "mine")


def test_an_evaluation_at_another_horizon_is_refused(run):
    tmp_path, _, _ = run
    path = tmp_path / "evaluation" / "results.json"
    document = json.loads(path.read_text())
    document["config"]["num_steps"] = 2 * HORIZON
    path.write_text(json.dumps(document))
    with pytest.raises(SystemExit, match=f"evaluates 20 steps; the meta-training horizon is {HORIZON}"):
        register(tmp_path)


def test_a_selected_step_of_a_run_over_many_lengths_is_registered(run):
    """--theta_step registers θ of theta_steps/step_<N>; trained on lengths 5..20, it may be evaluated at 10."""
    tmp_path, lopt, theta = run
    chosen = jax.tree_util.tree_map(lambda x: x + 0.5, theta)
    lopt_es.save_meta_params(str(tmp_path / "run" / "theta_steps" / "step_600"), lopt, chosen, 600,
                             tasks="family tiny_digits", estimator="PES", inner_length=2 * HORIZON,
                             min_inner_length=HORIZON // 2, command="tools/meta_train --min_inner_length=5")
    register(tmp_path, theta_step=600)
    _, restored, entry = lopt_pretrained.load("mine", directory=str(tmp_path / "registry"))
    jax.tree_util.tree_map(np.testing.assert_array_equal, chosen, restored)
    assert entry["training"]["selected_step"] == 600 and entry["training"]["outer_steps"] == 600
    assert entry["training"]["inner_lengths"] == [HORIZON // 2, 2 * HORIZON]
    with pytest.raises(SystemExit, match="no meta-trained optimizer in"):
        register(tmp_path, theta_step=700, replace_entry=True)


def test_adding_to_an_entry_without_its_curve_is_a_one_line_error(run):
    tmp_path, _, _ = run
    register(tmp_path)
    os.remove(tmp_path / "registry" / "mine" / "meta_training.json")
    with pytest.raises(SystemExit) as error:
        register(tmp_path, meta_train_dir=None, add_evaluation=True, evaluation_dir=[later_evaluation(tmp_path)])
    text = str(error.value.code)
    assert text.startswith("register_pretrained: cannot read entry 'mine'") and "meta_training.json" in text
    assert "\n" not in text


def _evaluation_at(directory, steps, candidate="celo (theta.state)", task="digits_mlp"):
    """A minimal evaluation of one task at `steps` steps, with one plot (and a speedup plot)."""
    os.makedirs(directory)
    curve = np.linspace(2.0, 0.5, steps)[None].repeat(2, 0)
    runs = [lopt_eval.Run(candidate, task, "candidate", {}, steps, [0, 1], curve, 1e-3, [1.0, 1.0]),
            lopt_eval.Run("adam", task, "baseline", {"learning_rate": 0.01}, steps, [0, 1], curve, 1e-3,
                          [1.0, 1.0])]
    summary = [lopt_eval.Summary(candidate, task, 0.1, 0.01, {"value": 1.5, "bound": None, "baseline": "adam"}),
               lopt_eval.Summary("adam", task, 0.2, 0.02, None)]
    results = lopt_eval.Results(config={"num_steps": steps, "seeds": [0, 1], "baselines": ["adam"],
                                        "candidate": candidate, "tasks": [task]}, runs=runs, summary=summary)
    lopt_eval.save(str(directory / "results.json"), results)
    (directory / f"{task}.png").write_bytes(b"\x89PNG" + bytes(100 + steps))
    (directory / "speedups.png").write_bytes(b"\x89PNG" + bytes(10))


@pytest.fixture
def third_party(tmp_path):
    """Celo-shaped weights in the authors' format, a provenance spec with its licence, and two horizons evaluated."""
    theta = la.celo().init_meta_params(jax.random.PRNGKey(3))
    weights = tmp_path / "theta.state"
    lopt_pretrained.write_flax_msgpack(weights, lopt_pretrained.to_reference("celo", theta))
    (tmp_path / "celo.LICENSE").write_text("MIT License\n\nCopyright (c) 2025 Someone\n")
    spec = {"arch": "celo", "description": "released weights", "license_text_file": "celo.LICENSE",
            "provenance": {"trained_by": "the authors", "compute": "24 GPU-hours",
                           "source": {"repository": "a/b", "commit": "0" * 40, "path": "theta.state"},
                           "license": {"spdx": "MIT", "file": "LICENSE"}}}
    (tmp_path / "celo.json").write_text(json.dumps(spec))
    _evaluation_at(tmp_path / "T200", 200)
    _evaluation_at(tmp_path / "T1000", 1000)
    return tmp_path, theta, weights


def register_third_party(tmp_path, weights, **overrides):
    settings = dict(entry="celo", third_party=str(tmp_path / "celo.json"), reference_checkpoint=str(weights),
                    evaluation_dir=[str(tmp_path / "T200"), str(tmp_path / "T1000")],
                    registry=str(tmp_path / "registry"), meta_train_dir=None)
    with flagsaver.flagsaver(**{**settings, **overrides}):
        register_pretrained.main(["register_pretrained"])


def test_registers_third_party_weights_with_provenance_licence_and_both_horizons(third_party):
    tmp_path, theta, weights = third_party
    register_third_party(tmp_path, weights)
    lopt, restored, entry = lopt_pretrained.load("celo", directory=str(tmp_path / "registry"))
    jax.tree_util.tree_map(np.testing.assert_array_equal, theta, restored)
    assert entry["origin"] == "third_party" and entry["inner_length"] is None
    assert entry["provenance"]["source"]["sha256"] == hashlib.sha256(weights.read_bytes()).hexdigest()
    assert entry["provenance"]["trained_by"] == "the authors"
    directory = tmp_path / "registry" / "celo"
    assert (directory / "LICENSE").read_text().startswith("MIT License")
    assert [e["num_steps"] for e in entry["evaluations"]] == [200, 1000]
    assert [e["file"] for e in entry["evaluations"]] == ["results.json", "results_T1000.json"]
    assert lopt_eval.load(str(directory / "results_T1000.json")).config["num_steps"] == 1000
    assert sorted(entry["plots"]) == ["T1000_digits_mlp.png", "T1000_speedups.png", "digits_mlp.png", "speedups.png"]
    # A horizon evaluated in two parts gets one speedup plot drawn over both parts' tasks.
    _evaluation_at(tmp_path / "T1000b", 1000, task="digits_autoencoder")
    register_third_party(tmp_path, weights, replace_entry=True,
                         evaluation_dir=[str(tmp_path / "T200"), str(tmp_path / "T1000"), str(tmp_path / "T1000b")])
    entry = lopt_pretrained.info("celo", directory=str(tmp_path / "registry"))
    assert "T1000_speedups.png" in entry["plots"] and (tmp_path / "registry" / "celo" / "T1000_speedups.png").exists()
    assert [t["task"] for t in entry["evaluations"][1]["tasks"]] == ["digits_mlp", "digits_autoencoder"]
    assert (directory / "T1000_digits_mlp.png").stat().st_size == 1104  # the 1000-step plot, not the 200-step one
    assert not (directory / "meta_training.json").exists()


@pytest.mark.parametrize("overrides, message", [
    ({"reference_checkpoint": None}, "--third_party needs --reference_checkpoint"),
    ({"meta_train_dir": "x"}, "drop --meta_train_dir"),
    ({"third_party": None}, "--reference_checkpoint needs --third_party"),
])
def test_third_party_flag_errors(third_party, overrides, message):
    tmp_path, _, weights = third_party
    with pytest.raises(SystemExit) as error:
        register_third_party(tmp_path, weights, **overrides)
    assert message in str(error.value.code)
    assert not (tmp_path / "registry" / "celo").exists()


def test_third_party_weights_of_another_architecture_are_refused(third_party):
    tmp_path, _, _ = third_party
    other = tmp_path / "adam.state"
    lopt_pretrained.write_flax_msgpack(
        other, lopt_pretrained.to_reference("celo_adam", la.celo_adam().init_meta_params(jax.random.PRNGKey(0))))
    with pytest.raises(SystemExit, match="does not hold celo meta-parameters"):
        register_third_party(tmp_path, other)
