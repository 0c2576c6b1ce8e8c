"""The horizon contract: what entries record, and runs asked for inside, outside and strictly outside it."""

import json
import warnings

import jax
import lopt_architectures as la
import pytest

import lopt_pretrained
from lopt_pretrained import horizon_contract, registry
from lopt_pretrained.horizon_contract import Horizons


@pytest.fixture(autouse=True)
def fresh_warnings(monkeypatch):
    monkeypatch.setattr(horizon_contract, "_WARNED", set())


def small_entry(directory, name="tiny", *, evaluated=(100,), **metadata):
    """A registry entry meta-trained on 100-step runs, with one results file per evaluated horizon."""
    lopt = la.small_fc_lopt()
    metadata.setdefault("inner_length", 100)
    registry.save_entry(str(directory / name), name, lopt, lopt.init_meta_params(jax.random.PRNGKey(0)), **metadata)
    for i, steps in enumerate(evaluated):
        file = "results.json" if i == 0 else f"results_T{steps}.json"
        (directory / name / file).write_text(json.dumps({"schema": "lopt-eval/1", "config": {"num_steps": steps}}))
    return str(directory / name)


def test_entries_record_what_they_were_meta_trained_on_and_evaluated_at(tmp_path):
    assert lopt_pretrained.horizons(small_entry(tmp_path, evaluated=(100, 500))) == Horizons((100, 100), (100, 500))
    runs_of_many_lengths = small_entry(tmp_path, "many", training={"inner_lengths": [50, 400]}, inner_length=400)
    assert lopt_pretrained.horizons(runs_of_many_lengths) == Horizons((50, 400), (100,))
    listed = {"evaluations": [{"num_steps": 1000, "file": "results_T1000.json"}, {"num_steps": 200}],
              "provenance": {"meta_training_horizons": [100, 2000]}, "inner_length": None}
    assert horizon_contract.from_info(listed) == Horizons((100, 2000), (200, 1000))
    assert horizon_contract.from_info({}) == Horizons(None, ())
    assert Horizons((100, 2000), (200, 1000)).describe() == (
        "meta-trained on runs of 100-2,000 steps, evaluated at 200 and 1,000 steps")
    assert Horizons((200, 200), ()).describe() == "meta-trained on 200-step runs, not evaluated"


@pytest.mark.parametrize("name", lopt_pretrained.names())
def test_every_shipped_entry_records_its_horizons(name):
    recorded = lopt_pretrained.horizons(name)
    assert recorded.meta_trained is not None and recorded.evaluated, recorded
    assert recorded.accepts(recorded.sound[0]) and recorded.accepts(recorded.sound[-1])
    assert not any(recorded.accepts(h) for h in recorded.failed)


@pytest.mark.parametrize("name", lopt_pretrained.names())
def test_every_shipped_entry_was_evaluated_at_5x_its_longest_meta_training_horizon(name):
    # The range a drop-in accepts silently is measured, not assumed: each entry has an evaluation at least
    # LONGER times as long as the longest runs it was meta-trained on.
    recorded = lopt_pretrained.horizons(name)
    assert recorded.evaluated[-1] >= horizon_contract.LONGER * recorded.meta_trained[1], recorded


def test_inside_the_range_known_nothing_is_said(tmp_path):
    entry = small_entry(tmp_path, evaluated=(100, 400))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for steps in (10, 100, 1000, 2000):  # a tenth of the shortest evaluated horizon .. 5x the longest
            lopt_pretrained.optax(entry, steps, strict=True)
            lopt_pretrained.optax(entry, steps)


def test_outside_it_warns_once_per_horizon_naming_the_entry_the_horizon_and_the_range(tmp_path):
    entry = small_entry(tmp_path, evaluated=(100, 400))
    with pytest.warns(lopt_pretrained.HorizonWarning) as caught:
        lopt_pretrained.optax(entry, 2001)
        lopt_pretrained.optax(entry, 2001)  # the same pair again: already said
        lopt_pretrained.optax(entry, 9)
    messages = [str(w.message) for w in caught]
    assert len(messages) == 2, messages
    assert messages[0].startswith("learned optimizer 'tiny' (meta-trained on 100-step runs, evaluated at 100 and "
                                  "400 steps) asked for a 2,001-step run, more than 5x the longest evaluated horizon")
    assert "the range known is 100-400 steps (runs of 10-2,000 steps pass)" in messages[0]
    assert "strict=True makes this an error" in messages[0]
    assert "asked for a 9-step run, less than 1/10 of the shortest evaluated horizon" in messages[1]
    assert caught[0].filename == __file__  # attributed to the line that asked, not to lopt_pretrained


def test_strict_makes_it_an_error(tmp_path):
    entry = small_entry(tmp_path)
    with pytest.raises(ValueError, match=r"'tiny' .* asked for a 501-step run, .* range known is 100 steps"):
        lopt_pretrained.optax(entry, 501, strict=True)
    # A shipped entry too: small_fc_lopt_digits_mlp is evaluated at 200 and 1,000 steps, so 5x the longest is 5,000.
    lopt_pretrained.optax("small_fc_lopt_digits_mlp", 5000, strict=True)
    with pytest.raises(ValueError, match="'small_fc_lopt_digits_mlp' .* asked for a 5,001-step run"):
        lopt_pretrained.optax("small_fc_lopt_digits_mlp", 5001, strict=True)
    unrecorded = small_entry(tmp_path, "unrecorded", evaluated=(), inner_length=None)
    with pytest.raises(ValueError, match="'unrecorded' records no meta-training or evaluation horizon"):
        lopt_pretrained.optax(unrecorded, 100, strict=True)
    with pytest.warns(lopt_pretrained.HorizonWarning, match="records no meta-training or evaluation horizon"):
        lopt_pretrained.optax(unrecorded, 100)


def test_weights_without_a_record_are_not_held_to_one():
    theta = la.small_fc_lopt().init_meta_params(jax.random.PRNGKey(0))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lopt_pretrained.optax(theta, 10**6, architecture="small_fc_lopt", strict=True)


def evaluation(steps, diverged_seeds):
    """An `evaluations[*]` record of one horizon: per task, how many of the candidate's seeds diverged."""
    return {"num_steps": steps, "tasks": [{"task": f"t{i}", "diverged_seeds": n} for i, n in enumerate(diverged_seeds)]}


def test_a_horizon_where_most_tasks_diverged_bounds_the_range_instead_of_extending_it(tmp_path):
    info = {"inner_length": 200, "evaluations": [evaluation(200, [0, 1, 0]), evaluation(1000, [0, 0, 2]),
                                                 evaluation(10000, [5, 3, 0])]}
    known = horizon_contract.from_info(info)
    # One task of three diverging is a failure of that task; two of three is the horizon's.
    assert known == Horizons((200, 200), (200, 1000, 10000), (10000,))
    assert known.sound == (200, 1000) and known.known == (200, 1000) and known.accepted() == (20, 5000)
    assert known.describe() == "meta-trained on 200-step runs, evaluated at 200, 1,000 and 10,000 steps " \
                               "(diverged at 10,000)"
    # A failed horizon inside 5x the longest sound one caps the range just below it.
    info["evaluations"][-1] = evaluation(3000, [1, 1])
    assert horizon_contract.from_info(info).accepted() == (20, 2999)
    # Nothing recorded about divergence (an older entry.json): the horizon counts as sound.
    assert horizon_contract.from_info({"inner_length": 200, "evaluations": [{"num_steps": 500}]}).failed == ()
    # Evaluated at one horizon only, the record is `evaluation` and the horizon is its results file's.
    one = small_entry(tmp_path, evaluation={"tasks": evaluation(100, [2, 2])["tasks"]})
    assert lopt_pretrained.horizons(one) == Horizons((100, 100), (100,), (100,))


def test_runs_at_or_beyond_a_failed_horizon_warn_saying_it_diverged_there():
    known = Horizons((200, 200), (200, 1000, 10000), (10000,))
    horizon_contract.check("x", known, 5000, strict=True)
    with pytest.raises(ValueError, match=r"'x' .* asked for a 5,001-step run, more than 5x the longest evaluated "
                                         r"horizon: the range known is 200-1,000 steps \(runs of 20-5,000 steps pass\)"):
        horizon_contract.check("x", known, 5001, strict=True)
    capped = Horizons((200, 200), (200, 1000, 3000), (3000,))
    with pytest.warns(lopt_pretrained.HorizonWarning,
                      match=r"asked for a 3,000-step run, at or beyond the 3,000 steps where it diverged on at least "
                            r"half of the tasks: the range known is 200-1,000 steps \(runs of 20-2,999 steps pass\)"):
        horizon_contract.check("x", capped, 3000)
    doomed = Horizons((200, 200), (200, 1000), (200, 1000))
    assert doomed.known is None and not doomed.accepts(200)
    with pytest.raises(ValueError, match="diverged on at least half of the tasks at every horizon it was evaluated"):
        horizon_contract.check("x", doomed, 200, strict=True)
    # A shipped entry: Celo was meta-trained on runs of up to 2,000 steps and diverged on all three tasks at 10,000.
    assert lopt_pretrained.horizons("celo").failed == (10000,)
    lopt_pretrained.optax("celo", 5000, strict=True)
    with pytest.raises(ValueError, match="'celo' .* asked for a 10,000-step run, at or beyond the 10,000 steps"):
        lopt_pretrained.optax("celo", 10000, strict=True)
