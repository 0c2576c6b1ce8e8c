"""The registry: every shipped entry loads and steps; round trips; corrupt, mismatched and unknown entries fail clearly."""

import json
import os

import jax
import jax.numpy as jnp
import lopt_architectures as la
import numpy as np
import pytest

import lopt_pretrained
from lopt_pretrained import registry

SHIPPED = ("small_fc_lopt_digits_mlp", "small_fc_lopt_families", "nn_adam_families", "nn_adam_schedule_families")


def small_problem():
    params = {"b": jnp.zeros(()), "v": jnp.linspace(-1.0, 1.0, 5), "w": jnp.arange(12.0).reshape(3, 4) / 10}
    grads = jax.tree_util.tree_map(lambda p: jnp.cos(3 * p) + 0.5, params)
    return params, grads


def test_the_meta_trained_optimizers_are_shipped():
    assert set(SHIPPED) <= set(lopt_pretrained.names())


def test_the_schedule_entry_is_adam_on_its_learned_schedule():
    """nn_adam_schedule_families trained only its schedule and initial hyperparameters (README): zero controls."""
    lopt, theta, info = lopt_pretrained.load("nn_adam_schedule_families")
    assert lopt.schedule_knots == 6 and "--train_only=schedule,initial_hparams" in info["training"]["command"]
    assert not np.any(np.asarray(theta["controls"]["w"])) and not np.any(np.asarray(theta["controls"]["b"]))
    multipliers = np.exp(10 * np.asarray(theta["schedule"]))
    assert multipliers[0] < 0.5 and multipliers[-1] < 0.5 and multipliers[1:-1].min() > 1.5  # warm-up, plateau, decay


@pytest.mark.parametrize("name", lopt_pretrained.names())
def test_every_entry_loads_and_takes_a_step(name):
    lopt, theta, info = lopt_pretrained.load(name)
    assert info["name"] == name and info["lopt"] == lopt.name
    assert sum(np.size(x) for x in jax.tree_util.tree_leaves(theta)) == info["weights"]["num_meta_params"]
    params, grads = small_problem()
    opt = lopt.optimizer(theta)
    horizon = info["inner_length"] or max(info["provenance"]["meta_training_horizons"])
    state = opt.init(params, num_steps=horizon, key=jax.random.PRNGKey(0))
    state = opt.update(state, grads, loss=jnp.asarray(1.0), key=jax.random.PRNGKey(1))
    new = opt.get_params(state)
    for key in params:
        assert np.all(np.isfinite(new[key]))
    # A descent step: every parameter moved, and against its gradient on average.
    moved = jax.tree_util.tree_map(lambda a, b: b - a, params, new)
    assert all(np.all(np.asarray(d) != 0) for d in jax.tree_util.tree_leaves(moved))
    assert sum(float(jnp.vdot(d, g)) for d, g in zip(jax.tree_util.tree_leaves(moved),
                                                     jax.tree_util.tree_leaves(grads))) < 0


@pytest.mark.parametrize("name", lopt_pretrained.names())
def test_every_entry_stores_its_configuration_as_config_of_writes_it(name):
    """Saving the loaded architecture again would store the same config, but for fields added since (at defaults)."""
    lopt, _, info = lopt_pretrained.load(name)
    default = la.config_of(la.make_learned_optimizer(info["lopt"]))
    assert la.config_of(lopt) == {**default, **info["config"]}


@pytest.mark.parametrize("name", lopt_pretrained.names())
def test_every_entry_documents_its_training_and_evaluation(name):
    entry = lopt_pretrained.info(name)
    directory = os.path.join(registry.registry_dir(), name)
    with open(os.path.join(directory, "results.json")) as f:
        results = json.load(f)
    assert results["schema"] == "lopt-eval/1"
    if entry["origin"] == lopt_pretrained.ORIGIN_THIRD_PARTY:
        # Who trained it, with what, from which file under which licence; our evaluation at several horizons.
        provenance = entry["provenance"]
        for key in ("trained_by", "paper", "compute", "meta_training", "meta_training_horizons", "source", "license"):
            assert key in provenance, key
        assert {"repository", "commit", "path", "sha256"} <= set(provenance["source"])
        with open(os.path.join(directory, "LICENSE")) as f:
            assert provenance["license"]["spdx"] in f.read()
        horizons = [e["num_steps"] for e in entry["evaluations"]]
        assert horizons == sorted(horizons) and len(horizons) >= 2 and results["config"]["num_steps"] == horizons[0]
        for evaluation in entry["evaluations"]:
            with open(os.path.join(directory, evaluation["file"])) as f:
                assert json.load(f)["config"]["num_steps"] == evaluation["num_steps"]
    else:
        assert entry["origin"] == lopt_pretrained.ORIGIN_LOPT
        training = entry["training"]
        for key in ("tasks", "estimator", "outer_steps", "command", "meta_training_seconds", "versions"):
            assert key in training, key
        assert training["command"].startswith("tools/meta_train")
        if "inner_lengths" in training:  # runs of log-uniform lengths: evaluated inside their range
            low, high = training["inner_lengths"]
            assert low <= results["config"]["num_steps"] <= high and high == entry["inner_length"]
        else:
            assert results["config"]["num_steps"] == entry["inner_length"]
        origin = entry.get("derived_from", {}).get("provenance")
        if origin is not None:  # fine-tuned from a third party's weights: their licence goes with them
            with open(os.path.join(directory, "LICENSE")) as f:
                assert origin["license"]["spdx"] in f.read()
        with open(os.path.join(directory, "meta_training.json")) as f:
            curve = json.load(f)
        assert len(curve["step"]) == len(curve["meta_loss"]) > 10
    for plot in entry["plots"]:
        assert os.path.getsize(os.path.join(directory, plot)) > 1000


def test_round_trip(tmp_path):
    lopt = la.small_fc_lopt(hidden_size=8)
    theta = lopt.init_meta_params(jax.random.PRNGKey(3))
    registry.save_entry(str(tmp_path / "mine"), "mine", lopt, theta, inner_length=10, description="test")
    assert lopt_pretrained.names(str(tmp_path)) == ["mine"]
    loaded, restored, entry = lopt_pretrained.load("mine", directory=str(tmp_path))
    assert loaded == lopt and entry["description"] == "test"
    jax.tree_util.tree_map(np.testing.assert_array_equal, theta, restored)


@pytest.fixture
def saved(tmp_path):
    lopt = la.small_fc_lopt()
    registry.save_entry(str(tmp_path / "e"), "e", lopt, lopt.init_meta_params(jax.random.PRNGKey(0)))
    return tmp_path


def test_unknown_name_lists_the_known_ones(saved):
    with pytest.raises(lopt_pretrained.UnknownPretrainedError, match=r"no pretrained optimizer 'x'; known: e\."):
        lopt_pretrained.load("x", directory=str(saved))


def test_corrupt_weights_are_refused(saved):
    path = saved / "e" / registry.WEIGHTS_FILE
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(lopt_pretrained.CheckpointFormatError, match="theta.npz is corrupt"):
        lopt_pretrained.load("e", directory=str(saved))


def test_truncated_entry_file_is_refused(saved):
    path = saved / "e" / registry.ENTRY_FILE
    path.write_text(path.read_text()[:50])
    with pytest.raises(lopt_pretrained.CheckpointFormatError, match="not a readable registry entry"):
        lopt_pretrained.load("e", directory=str(saved))


def test_weights_of_another_configuration_are_refused(saved):
    path = saved / "e" / registry.ENTRY_FILE
    entry = json.loads(path.read_text())
    entry["config"]["hidden_size"] = 16  # the weights are for the default width, 4
    path.write_text(json.dumps(entry))
    with pytest.raises(lopt_pretrained.CheckpointFormatError, match=r"leaf .* needs float32\[.*16"):
        lopt_pretrained.load("e", directory=str(saved))


def test_weights_of_another_architecture_are_refused(saved):
    path = saved / "e" / registry.ENTRY_FILE
    entry = json.loads(path.read_text())
    entry["lopt"], entry["config"] = "nn_adam", {}
    path.write_text(json.dumps(entry))
    with pytest.raises(lopt_pretrained.CheckpointFormatError, match="is not a meta-parameter of nn_adam"):
        lopt_pretrained.load("e", directory=str(saved))


def test_save_refuses_theta_of_another_architecture(tmp_path):
    theta = la.small_fc_lopt().init_meta_params(jax.random.PRNGKey(0))
    with pytest.raises(ValueError, match="does not fit nn_adam"):
        registry.save_entry(str(tmp_path / "bad"), "bad", la.nn_adam(), theta)
    assert not os.path.exists(tmp_path / "bad" / registry.ENTRY_FILE)
