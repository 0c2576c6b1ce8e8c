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
    la.save_theta(str(workdir / "theta"), lopt, theta, 1234, tasks="task digits_mlp", estimator="PES",
                  inner_length=HORIZON, command="tools/meta_train --lopt=small_fc_lopt", meta_training_seconds=300)
    with open(workdir / "metrics.jsonl", "w") as f:
        for step in range(1234):
            f.write(json.dumps({"step": step, "meta_loss": 2.0 - step / 1000, "inner_loss": 1.0, "seconds": 0.25})
                    + "\n")
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
                                        "candidate": candidate,
                                        "candidate_identity": lopt_pretrained.learned_identity(lopt, theta)},
                                runs=runs, summary=summary, versions={"lopt-es": "0.1.0"})
    lopt_eval.save(str(evaluation / "results.json"), results)
    (evaluation / "digits_mlp.png").write_bytes(b"\x89PNG" + bytes(2000))
    return tmp_path, lopt, theta


def identity_of_run(tmp_path, theta_dir="theta"):
    """What tools/evaluate records as the candidate when it evaluates the θ in <run>/<theta_dir>."""
    lopt, theta, _ = la.load_theta(str(tmp_path / "run" / theta_dir))
    return lopt_pretrained.learned_identity(lopt, theta)


def set_identity(directory, identity):
    """Rewrites directory/results.json as if it had evaluated `identity` (None: written before identities)."""
    path = os.path.join(directory, "results.json")
    with open(path) as f:
        document = json.load(f)
    document["config"].pop("candidate_identity", None)
    if identity is not None:
        document["config"]["candidate_identity"] = identity
    with open(path, "w") as f:
        json.dump(document, f)


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
                "tasks": ["digits_conv"], "baseline_multiple": 1, "candidate_identity": identity_of_run(tmp_path)},
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


def later_evaluation(tmp_path, task="digits_conv", candidate="pretrained:mine", steps=HORIZON, final_loss=0.25,
                     diverged=False):
    """A results directory of the same θ on one more task (as tools/evaluate writes it), at `steps` steps; with
    `diverged`, the candidate's loss ends above where it started (lopt_eval.scorecard's diverged run)."""
    later = tmp_path / f"later_{task}_T{steps}"
    os.makedirs(later)
    curve = np.linspace(1.0, 0.2, steps)[None].repeat(2, 0)
    candidate_curve = curve[:, ::-1] * 3 if diverged else curve
    lopt_eval.save(str(later / "results.json"), lopt_eval.Results(
        config={"num_steps": steps, "seeds": [0, 1], "baselines": ["adam"], "candidate": candidate, "tasks": [task],
                "candidate_identity": identity_of_run(tmp_path)},
        runs=[lopt_eval.Run(candidate, task, "candidate", {}, steps, [0, 1], candidate_curve, 1e-3, [1.0, 1.0]),
              lopt_eval.Run("adam", task, "baseline", {"learning_rate": 0.01}, steps, [0, 1], curve * 2, 1e-3,
                            [1.0, 1.0])],
        summary=[lopt_eval.Summary(candidate, task, final_loss, 0.01,
                                   {"value": 1.5, "bound": None, "baseline": "adam"}),
                 lopt_eval.Summary("adam", task, 0.3, 0.01, None)]))
    (later / f"{task}.png").write_bytes(b"\x89PNG" + bytes(2000 + steps))
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


def refusal(tmp_path, **overrides) -> str:
    """The one-line error register_pretrained ends with; the registry is left without the entry."""
    with pytest.raises(SystemExit) as error:
        register(tmp_path, **overrides)
    text = str(error.value.code)
    assert text.startswith("register_pretrained: ") and "\n" not in text
    return text[len("register_pretrained: "):]


def test_an_evaluation_of_another_optimizer_is_refused(run):
    """Issue 20: only the horizon used to be checked, so adam's numbers could be registered as θ's."""
    tmp_path, lopt, theta = run
    results_path = tmp_path / "evaluation" / "results.json"
    registered = f"the small_fc_lopt θ being registered (sha256 {lopt_pretrained.theta_sha256(theta)[:12]}…)"
    set_identity(tmp_path / "evaluation", lopt_pretrained.hand_designed_identity("adam", {"learning_rate": 1e-3}))
    assert refusal(tmp_path) == f"{results_path} evaluates adam (learning_rate=0.001), not {registered}"
    other = jax.tree_util.tree_map(lambda x: x.at[(0,) * x.ndim].add(1.0), theta)  # one element changed
    set_identity(tmp_path / "evaluation", lopt_pretrained.learned_identity(lopt, other))
    assert refusal(tmp_path) == (f"{results_path} evaluates the small_fc_lopt θ with sha256 "
                                 f"{lopt_pretrained.theta_sha256(other)[:12]}…, not {registered}")
    celo = la.celo()
    set_identity(tmp_path / "evaluation", lopt_pretrained.learned_identity(celo, celo.init_meta_params(
        jax.random.PRNGKey(0))))
    assert refusal(tmp_path).startswith(f"{results_path} evaluates the celo θ with sha256 ")
    # The same θ run with another step_mult is another optimizer.
    set_identity(tmp_path / "evaluation", lopt_pretrained.learned_identity(la.small_fc_lopt(step_mult=0.01), theta))
    assert refusal(tmp_path) == (f"{results_path} evaluates the small_fc_lopt θ with sha256 "
                                 f"{lopt_pretrained.theta_sha256(theta)[:12]}… run with step_mult=0.01, "
                                 f"not {registered}")
    set_identity(tmp_path / "evaluation", None)  # written before evaluations recorded what they evaluated
    assert refusal(tmp_path) == (
        f"{results_path} does not record what it evaluated (written before tools/evaluate recorded its candidate's "
        f"identity): re-run tools/evaluate on {registered}")
    assert not os.path.exists(tmp_path / "registry" / "mine")
    set_identity(tmp_path / "evaluation", identity_of_run(tmp_path))
    register(tmp_path)
    shipped = lopt_eval.load(str(tmp_path / "registry" / "mine" / "results.json"))
    assert shipped.config["candidate_identity"] == lopt_pretrained.learned_identity(lopt, theta)


def test_an_evaluation_added_to_an_entry_must_be_of_its_theta(run):
    tmp_path, _, _ = run
    register(tmp_path)
    directory = tmp_path / "registry" / "mine"
    before = (directory / "entry.json").read_text()
    later = later_evaluation(tmp_path)
    set_identity(later, lopt_pretrained.hand_designed_identity("adam", {"learning_rate": 1e-3}))
    assert refusal(tmp_path, meta_train_dir=None, add_evaluation=True, evaluation_dir=[later]).startswith(
        f"{later}/results.json evaluates adam (learning_rate=0.001), not the small_fc_lopt θ being registered")
    set_identity(later, None)
    assert "does not record what it evaluated" in refusal(tmp_path, meta_train_dir=None, add_evaluation=True,
                                                          evaluation_dir=[later])
    assert (directory / "entry.json").read_text() == before


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


def test_an_entry_meta_trained_at_one_horizon_needs_an_evaluation_at_it(run):
    tmp_path, _, _ = run
    path = tmp_path / "evaluation" / "results.json"
    document = json.loads(path.read_text())
    document["config"]["num_steps"] = 2 * HORIZON
    path.write_text(json.dumps(document))
    with pytest.raises(SystemExit) as error:
        register(tmp_path)
    assert str(error.value.code) == (
        f"register_pretrained: no evaluation at the meta-training horizon {HORIZON} (--evaluation_dir evaluates 20 "
        f"steps): evaluate with --steps={HORIZON}; other horizons are registered beside it")
    assert not os.path.exists(tmp_path / "registry" / "mine")


def test_evaluations_at_other_horizons_are_added_beside_the_primary_one(run):
    """Registered at its horizon H, then evaluated at 5H: results_T<5H>.json, T<5H>_ plots, and the contract."""
    tmp_path, _, _ = run
    register(tmp_path)
    directory = tmp_path / "registry" / "mine"
    primary = (directory / "results.json").read_bytes()
    long = 5 * HORIZON
    register(tmp_path, meta_train_dir=None, add_evaluation=True,
             evaluation_dir=[later_evaluation(tmp_path, task="digits_mlp", steps=long, final_loss=0.15)])
    entry = json.loads((directory / "entry.json").read_text())
    assert [(e["num_steps"], e["file"]) for e in entry["evaluations"]] == [
        (HORIZON, "results.json"), (long, f"results_T{long}.json")]
    assert entry["inner_length"] == HORIZON and entry["evaluation"]["tasks"][0]["final_loss"] == 0.1
    assert (directory / "results.json").read_bytes() == primary  # the primary evaluation stays as it was
    assert lopt_eval.load(str(directory / f"results_T{long}.json")).config["num_steps"] == long
    assert sorted(entry["plots"]) == [f"T{long}_digits_mlp.png", f"T{long}_speedups.png", "digits_mlp.png",
                                      "meta_training.png"]
    assert (directory / f"T{long}_digits_mlp.png").stat().st_size == 2004 + long
    assert (directory / "digits_mlp.png").stat().st_size == 2004
    assert lopt_pretrained.horizons(str(directory)) == lopt_pretrained.Horizons((HORIZON, HORIZON), (HORIZON, long))
    card = (directory / "README.md").read_text()
    assert f"### T = {long} steps" in card and f"evaluated at {HORIZON} and {long} steps" in card
    assert f"- T = {long}, against tuned adam: wins 1/1; wins: digits_mlp" in card
    assert f'lopt_pretrained.optax("mine", num_training_steps={HORIZON})' in card  # the meta-training horizon
    # Another task at 5H is merged into that horizon's evaluation; one at H into the primary one.
    register(tmp_path, meta_train_dir=None, add_evaluation=True,
             evaluation_dir=[later_evaluation(tmp_path, task="digits_conv", steps=long),
                             later_evaluation(tmp_path, task="digits_conv")])
    entry = json.loads((directory / "entry.json").read_text())
    assert [[t["task"] for t in e["tasks"]] for e in entry["evaluations"]] == [
        ["digits_mlp", "family:mlp:1", "digits_conv"], ["digits_mlp", "digits_conv"]]
    assert lopt_eval.load(str(directory / f"results_T{long}.json")).config["tasks"] == ["digits_mlp", "digits_conv"]
    assert {f"T{long}_digits_mlp.png", f"T{long}_digits_conv.png", "digits_conv.png", "digits_mlp.png",
            "speedups.png"} <= set(entry["plots"])
    assert (directory / f"T{long}_digits_conv.png").stat().st_size == 2004 + long
    # A new registration may include the longer horizon from the start.
    register(tmp_path, replace_entry=True, evaluation_dir=[
        str(tmp_path / "evaluation"), later_evaluation(tmp_path, task="digits_autoencoder", steps=long)])
    entry = json.loads((directory / "entry.json").read_text())
    assert [e["num_steps"] for e in entry["evaluations"]] == [HORIZON, long]


def test_the_record_counts_diverged_seeds_and_the_contract_stops_short_of_a_horizon_that_failed(run):
    tmp_path, _, _ = run
    register(tmp_path)
    directory = tmp_path / "registry" / "mine"
    long = 5 * HORIZON
    register(tmp_path, meta_train_dir=None, add_evaluation=True,
             evaluation_dir=[later_evaluation(tmp_path, task="digits_mlp", steps=long, diverged=True)])
    entry = json.loads((directory / "entry.json").read_text())
    assert [[(t["task"], t.get("diverged_seeds")) for t in e["tasks"]] for e in entry["evaluations"]] == [
        [("digits_mlp", 0), ("family:mlp:1", None)], [("digits_mlp", 2)]]
    horizons = lopt_pretrained.horizons(str(directory))
    assert horizons.failed == (long,) and horizons.accepted() == (1, long - 1)
    card = (directory / "README.md").read_text()
    assert f"evaluated at {HORIZON} and {long} steps (diverged at {long})" in card
    assert f"accepts runs of 1-{long - 1} steps" in card
    # A record written before the count existed is rewritten from the entry's own results, θ and files unchanged.
    weights = (directory / "theta.npz").read_bytes()
    for evaluation in entry["evaluations"]:
        for task in evaluation["tasks"]:
            del task["diverged_seeds"]
    (directory / "entry.json").write_text(json.dumps(entry))
    assert lopt_pretrained.horizons(str(directory)).failed == ()
    register(tmp_path, meta_train_dir=None, add_evaluation=True, evaluation_dir=None)
    assert lopt_pretrained.horizons(str(directory)).failed == (long,)
    assert (directory / "theta.npz").read_bytes() == weights
    assert json.loads((directory / "entry.json").read_text())["plots"] == entry["plots"]
    assert set(entry["plots"]) | {"results.json", f"results_T{long}.json"} <= set(os.listdir(directory))


def test_a_selected_step_of_a_run_over_many_lengths_is_registered(run):
    """--theta_step registers θ of theta_steps/step_<N>; trained on lengths 5..20, it may be evaluated at 10."""
    tmp_path, lopt, theta = run
    chosen = jax.tree_util.tree_map(lambda x: x + 0.5, theta)
    la.save_theta(str(tmp_path / "run" / "theta_steps" / "step_600"), lopt, chosen, 600,
                  tasks="family tiny_digits", estimator="PES", inner_length=2 * HORIZON,
                  min_inner_length=HORIZON // 2, command="tools/meta_train --min_inner_length=5")
    # The evaluation is of the final θ, not of the selected one: refused.
    with pytest.raises(SystemExit) as error:
        register(tmp_path, theta_step=600)
    digest = lopt_pretrained.theta_sha256(chosen)
    assert str(error.value.code) == (
        f"register_pretrained: {tmp_path / 'evaluation' / 'results.json'} evaluates the small_fc_lopt θ with sha256 "
        f"{lopt_pretrained.theta_sha256(theta)[:12]}…, not the small_fc_lopt θ being registered (sha256 "
        f"{digest[:12]}…)")
    set_identity(tmp_path / "evaluation", identity_of_run(tmp_path, "theta_steps/step_600"))
    register(tmp_path, theta_step=600)
    _, restored, entry = lopt_pretrained.load("mine", directory=str(tmp_path / "registry"))
    jax.tree_util.tree_map(np.testing.assert_array_equal, chosen, restored)
    assert entry["training"]["selected_step"] == 600 and entry["training"]["outer_steps"] == 600
    assert entry["training"]["inner_lengths"] == [HORIZON // 2, 2 * HORIZON]
    # That θ's metadata records no meta-training time: the first 600 steps' seconds from metrics.jsonl.
    assert entry["training"]["meta_training_seconds"] == pytest.approx(600 * 0.25)
    with pytest.raises(SystemExit, match="no meta-trained optimizer in"):
        register(tmp_path, theta_step=700, replace_entry=True)


def test_run_lengths_only_the_command_records_are_read_from_it(run):
    """θ saved before its metadata recorded --min_inner_length: the range of run lengths comes from the command, so
    an evaluation inside it is accepted as the primary one (not only one at the longest length)."""
    tmp_path, lopt, theta = run
    la.save_theta(str(tmp_path / "run" / "theta"), lopt, theta, 1234, tasks="family tiny_digits", estimator="PES",
                  inner_length=2 * HORIZON, command=f"tools/meta_train --inner_length={2 * HORIZON} "
                  f"--min_inner_length={HORIZON // 2} --outer_steps=1234", meta_training_seconds=300)
    register(tmp_path)
    _, _, entry = lopt_pretrained.load("mine", directory=str(tmp_path / "registry"))
    assert entry["training"]["inner_lengths"] == [HORIZON // 2, 2 * HORIZON]
    assert entry["training"]["meta_training_seconds"] == 300
    # Without the flag anywhere, the run had one length, 2 * HORIZON, and needs an evaluation there.
    la.save_theta(str(tmp_path / "run" / "theta"), lopt, theta, 1234, tasks="family tiny_digits", estimator="PES",
                  inner_length=2 * HORIZON, command="tools/meta_train", meta_training_seconds=300)
    with pytest.raises(SystemExit, match=f"no evaluation at the meta-training horizon {2 * HORIZON}"):
        register(tmp_path, replace_entry=True)


def test_adding_to_an_entry_without_its_curve_is_a_one_line_error(run):
    tmp_path, _, _ = run
    register(tmp_path)
    os.remove(tmp_path / "registry" / "mine" / "meta_training.json")
    with pytest.raises(SystemExit) as error:
        register(tmp_path, meta_train_dir=None, add_evaluation=True, evaluation_dir=[later_evaluation(tmp_path)])
    text = str(error.value.code)
    assert text.startswith("register_pretrained: cannot read entry 'mine'") and "meta_training.json" in text
    assert "\n" not in text


def _evaluation_at(directory, steps, identity, candidate="celo (theta.state)", task="digits_mlp"):
    """A minimal evaluation of `identity` on one task at `steps` steps, with one plot (and a speedup plot)."""
    os.makedirs(directory)
    curve = np.linspace(2.0, 0.5, steps)[None].repeat(2, 0)
    runs = [lopt_eval.Run(candidate, task, "candidate", {}, steps, [0, 1], curve, 1e-3, [1.0, 1.0]),
            lopt_eval.Run("adam", task, "baseline", {"learning_rate": 0.01}, steps, [0, 1], curve, 1e-3,
                          [1.0, 1.0])]
    summary = [lopt_eval.Summary(candidate, task, 0.1, 0.01, {"value": 1.5, "bound": None, "baseline": "adam"}),
               lopt_eval.Summary("adam", task, 0.2, 0.02, None)]
    results = lopt_eval.Results(config={"num_steps": steps, "seeds": [0, 1], "baselines": ["adam"],
                                        "candidate": candidate, "tasks": [task], "candidate_identity": identity},
                                runs=runs, summary=summary)
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
    identity = lopt_pretrained.learned_identity(la.celo(), theta)
    _evaluation_at(tmp_path / "T200", 200, identity)
    _evaluation_at(tmp_path / "T1000", 1000, identity)
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
    _evaluation_at(tmp_path / "T1000b", 1000, lopt_pretrained.learned_identity(lopt, theta),
                   task="digits_autoencoder")
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


def test_an_evaluation_of_other_third_party_weights_is_refused(third_party):
    tmp_path, theta, weights = third_party
    other = jax.tree_util.tree_map(lambda x: x * 0.5, theta)
    set_identity(tmp_path / "T1000", lopt_pretrained.learned_identity(la.celo(), other))
    with pytest.raises(SystemExit) as error:
        register_third_party(tmp_path, weights)
    assert str(error.value.code) == (
        f"register_pretrained: {tmp_path / 'T1000' / 'results.json'} evaluates the celo θ with sha256 "
        f"{lopt_pretrained.theta_sha256(other)[:12]}…, not the celo θ being registered (sha256 "
        f"{lopt_pretrained.theta_sha256(theta)[:12]}…)")
    assert not (tmp_path / "registry" / "celo").exists()


def test_an_evaluation_at_another_horizon_is_added_to_third_party_weights(third_party):
    """--add_evaluation keeps a third-party entry's provenance, licence and every horizon it had."""
    tmp_path, theta, weights = third_party
    register_third_party(tmp_path, weights)
    directory = tmp_path / "registry" / "celo"
    _evaluation_at(tmp_path / "T5000", 5000, lopt_pretrained.learned_identity(la.celo(), theta))
    with flagsaver.flagsaver(entry="celo", add_evaluation=True, evaluation_dir=[str(tmp_path / "T5000")],
                             registry=str(tmp_path / "registry")):
        register_pretrained.main(["register_pretrained"])
    entry = lopt_pretrained.entry_info(str(directory))
    assert [(e["num_steps"], e["file"]) for e in entry["evaluations"]] == [
        (200, "results.json"), (1000, "results_T1000.json"), (5000, "results_T5000.json")]
    assert entry["origin"] == "third_party" and entry["provenance"]["trained_by"] == "the authors"
    assert (directory / "LICENSE").read_text().startswith("MIT License")
    assert {"T1000_digits_mlp.png", "T5000_digits_mlp.png", "digits_mlp.png"} <= set(entry["plots"])
    assert (directory / "T1000_digits_mlp.png").stat().st_size == 1104
    assert lopt_pretrained.horizons(str(directory)).evaluated == (200, 1000, 5000)


def started_from(tmp_path, init_theta, recorded_in="config.json"):
    """Records that the meta-training run in <tmp_path>/run started from `init_theta`, as tools/meta_train does:
    in its config.json, or (runs before config.json recorded it) only in the command θ's metadata keeps."""
    workdir = tmp_path / "run"
    if recorded_in == "config.json":
        lopt_es.workdir.write_run_config(str(workdir), {"lopt": "small_fc_lopt", "init_theta": init_theta})
    else:
        lopt, theta, metadata = la.load_theta(str(workdir / "theta"))
        la.save_theta(str(workdir / "theta"), lopt, theta, 1234, **{
            **{k: metadata[k] for k in ("tasks", "estimator", "inner_length", "meta_training_seconds")},
            "command": f"tools/meta_train --init_theta={init_theta} --train_only=update_rule"})


@pytest.mark.parametrize("recorded_in", ["config.json", "command"])
def test_weights_fine_tuned_from_third_party_ones_carry_their_licence_and_provenance(run, third_party, recorded_in):
    """A derived work: the entry holds the licence text of the weights it started from, and says where they come
    from; refreshing it (--add_evaluation alone) keeps both, and so does fine-tuning it again."""
    tmp_path, _, _ = run
    _, celo_theta, weights = third_party
    register_third_party(tmp_path, weights)
    celo = lopt_pretrained.info("celo", directory=str(tmp_path / "registry"))
    started_from(tmp_path, "pretrained:celo", recorded_in)
    register(tmp_path)
    directory, registry = tmp_path / "registry" / "mine", tmp_path / "registry"
    licence = (registry / "celo" / "LICENSE").read_bytes()
    assert (directory / "LICENSE").read_bytes() == licence
    entry = lopt_pretrained.info("mine", directory=str(registry))
    assert entry["origin"] == "lopt" and "provenance" not in entry  # meta-trained (fine-tuned) here
    assert entry["derived_from"] == {"entry": "celo", "provenance": celo["provenance"],
                                     "theta_sha256": lopt_pretrained.theta_sha256(celo_theta)}
    card = (directory / "README.md").read_text()
    assert "meta-trained with lopt, fine-tuned from the weights of `celo`." in card
    assert "## Derived from" in card and "meta-trained by **the authors**, not by lopt:" in card
    assert "- source: `a/b` at commit `000000000000`, `theta.state`" in card
    assert "**MIT** ([`LICENSE`](LICENSE))" in card and "**MIT**, lopt's licence" not in card
    before = entry
    register(tmp_path, meta_train_dir=None, add_evaluation=True, evaluation_dir=None)
    assert (directory / "LICENSE").read_bytes() == licence
    assert lopt_pretrained.info("mine", directory=str(registry))["derived_from"] == before["derived_from"]
    # Fine-tuned once more, from the derived entry: still under the same licence.
    started_from(tmp_path, "pretrained:mine")
    register(tmp_path, entry="mine2")
    assert (registry / "mine2" / "LICENSE").read_bytes() == licence
    derived = lopt_pretrained.info("mine2", directory=str(registry))["derived_from"]
    assert derived["entry"] == "mine" and derived["derived_from"] == before["derived_from"]
    assert "itself fine-tuned from `celo`" in (registry / "mine2" / "README.md").read_text()


def test_weights_from_a_directory_or_an_entry_of_ours_say_so_without_a_licence(run):
    tmp_path, _, theta = run
    started_from(tmp_path, "runs/first/theta", recorded_in="command")
    register(tmp_path)
    registry = tmp_path / "registry"
    assert lopt_pretrained.info("mine", directory=str(registry))["derived_from"] == {"theta_dir": "runs/first/theta"}
    assert not (registry / "mine" / "LICENSE").exists()
    card = (registry / "mine" / "README.md").read_text()
    assert "Meta-training started from the θ saved in `runs/first/theta`" in card
    started_from(tmp_path, "pretrained:mine")
    register(tmp_path, entry="mine2")
    assert lopt_pretrained.info("mine2", directory=str(registry))["derived_from"] == {
        "entry": "mine", "theta_sha256": lopt_pretrained.theta_sha256(theta),
        "derived_from": {"theta_dir": "runs/first/theta"}}  # what "mine" started from
    assert not (registry / "mine2" / "LICENSE").exists()
    card = (registry / "mine2" / "README.md").read_text()
    assert "from the weights of the registry entry `mine`" in card and "**MIT**, lopt's licence" in card
    started_from(tmp_path, "pretrained:nowhere")
    assert refusal(tmp_path, entry="mine3").startswith(
        "meta-training started from pretrained:nowhere (the entry must say what it derives from and carry its "
        "licence), but entry 'nowhere' cannot be read: no pretrained optimizer 'nowhere'")
    assert not (registry / "mine3").exists()
