"""Celo, Celo-Adam and Celo2 as optax drop-ins, their weight files, and the registry entries of the released weights."""

import hashlib
import os

import jax
import jax.numpy as jnp
import lopt_architectures as la
import numpy as np
import optax
import pytest

import lopt_pretrained
from lopt_pretrained.flax_msgpack import CheckpointFormatError, write_flax_msgpack
from lopt_pretrained.reference import to_reference
from lopt_pretrained.third_party import CELO2_WEIGHTS_ENV, celo2_optax, load_celo2_weights, pretrained_optax

X = jax.random.normal(jax.random.PRNGKey(0), (64, 4))
Y = jnp.tanh(X @ jnp.asarray([1.0, -1.0, 0.5, 2.0]))
CELO2_THETA = la.celo2().init_meta_params(jax.random.PRNGKey(7))


def loss_fn(params):
    hidden = jnp.tanh(X @ params["w1"] + params["b1"])
    return jnp.mean((hidden @ params["w2"] - Y) ** 2)


def initial_params():
    return {"w1": 0.5 * jax.random.normal(jax.random.PRNGKey(1), (4, 8)), "b1": jnp.zeros(8),
            "w2": 0.5 * jax.random.normal(jax.random.PRNGKey(2), (8,))}


def train(tx, steps):
    """An ordinary optax loop, the learned optimizer inside a chain with gradient clipping."""
    tx = optax.chain(optax.clip_by_global_norm(10.0), tx)
    params = initial_params()
    state = tx.init(params)

    @jax.jit
    def step(params, state):
        loss, grads = jax.value_and_grad(loss_fn)(params)
        updates, state = tx.update(grads, state, params, loss=loss)
        return optax.apply_updates(params, updates), state, loss

    losses = []
    for _ in range(steps):
        params, state, loss = step(params, state)
        losses.append(float(loss))
    return params, losses


@pytest.mark.parametrize("name", ["celo", "celo_adam"])
def test_released_weights_train_inside_an_optax_loop(name):
    params, losses = train(pretrained_optax(name, num_training_steps=100), 100)
    assert all(np.isfinite(losses))
    assert losses[-1] < 0.5 * losses[0], losses[::10]
    # The drop-in runs the registry's optimizer: the same steps as calling it directly.
    lopt, theta, _ = lopt_pretrained.load(name)
    opt = lopt.optimizer(theta)
    state = opt.init(initial_params(), num_steps=100)
    for _ in range(3):
        params_now = opt.get_params(state)
        loss, grads = jax.value_and_grad(loss_fn)(params_now)
        scale = jnp.minimum(1.0, 10.0 / optax.tree.norm(grads))
        state = opt.update(state, jax.tree.map(lambda g: g * scale, grads), loss=loss)
    three, _ = train(pretrained_optax(name, num_training_steps=100), 3)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7), three, opt.get_params(state))


def test_celo_helpers_and_weight_decay():
    plain, _ = train(lopt_pretrained.celo_optax(20), 5)
    decayed, _ = train(lopt_pretrained.celo_optax(20, weight_decay=0.1), 5)
    assert not np.allclose(plain["w1"], decayed["w1"])
    train(lopt_pretrained.celo_adam_optax(20), 2)
    with pytest.raises(ValueError, match="num_training_steps must be positive"):
        pretrained_optax("celo", 0)
    with pytest.raises(lopt_pretrained.UnknownPretrainedError, match="no pretrained optimizer 'celo3'"):
        pretrained_optax("celo3", 10)


def test_celo2_without_weights_says_what_to_get_and_where_it_looked(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv(CELO2_WEIGHTS_ENV, raising=False)
    with pytest.raises(FileNotFoundError) as error:
        celo2_optax()
    message = str(error.value)
    assert "theta.state" in message and str(tmp_path / "lopt" / "celo2" / "theta.state") in message
    assert "amoudgl/celo" in message and CELO2_WEIGHTS_ENV in message
    with pytest.raises(FileNotFoundError, match="no Celo2 weights file at"):
        celo2_optax(weights=tmp_path / "missing.state")


def test_celo2_weights_from_a_file_the_environment_or_the_cache(monkeypatch, tmp_path):
    path = tmp_path / "theta.state"
    write_flax_msgpack(path, to_reference("celo2", CELO2_THETA))  # the authors' format: a bare tree
    jax.tree.map(np.testing.assert_array_equal, load_celo2_weights(path), CELO2_THETA)
    monkeypatch.setenv(CELO2_WEIGHTS_ENV, str(path))
    jax.tree.map(np.testing.assert_array_equal, load_celo2_weights(), CELO2_THETA)
    schedule = optax.cosine_decay_schedule(1e-2, 50)
    params, losses = train(celo2_optax(learning_rate=schedule, adam_pattern=r"b1$"), 50)
    assert all(np.isfinite(losses)) and losses[-1] < losses[0]
    with open(path, "r+b") as f:
        f.truncate(os.path.getsize(path) // 2)
    with pytest.raises(CheckpointFormatError):
        load_celo2_weights(path)


@pytest.mark.parametrize("name", ["celo", "celo_adam"])
def test_third_party_entries_record_their_origin_licence_and_source(name):
    info = lopt_pretrained.info(name)
    assert info["origin"] == lopt_pretrained.ORIGIN_THIRD_PARTY
    provenance = info["provenance"]
    assert "Moudgil" in provenance["trained_by"] and "GPU-hours" in provenance["compute"]
    assert provenance["source"]["repository"] == "amoudgl/celo"
    assert provenance["source"]["path"] == f"algoperf/submissions/{name}/theta.state"
    assert len(provenance["source"]["commit"]) == 40 and len(provenance["source"]["sha256"]) == 64
    assert provenance["license"]["spdx"] == "MIT"
    entry_dir = os.path.join(lopt_pretrained.registry.registry_dir(), name)
    with open(os.path.join(entry_dir, "LICENSE")) as f:
        assert "MIT License" in f.read()
    assert lopt_pretrained.info("small_fc_lopt_digits_mlp")["origin"] == lopt_pretrained.ORIGIN_LOPT


@pytest.mark.parametrize("name", ["celo", "celo_adam"])
def test_shipped_weights_are_the_released_file(name, tmp_path):
    """θ written back in the authors' format is byte for byte the file whose SHA-256 the entry records."""
    lopt, theta, info = lopt_pretrained.load(name)
    def authors_order(tree):
        # Their θ went through jax tree maps (dict keys sorted); the LSTM state is a namedtuple (hidden, cell).
        if set(tree) == {"hidden", "cell"}:
            return {"hidden": tree["hidden"], "cell": tree["cell"]}
        return {k: authors_order(v) if isinstance(v, dict) else v for k, v in sorted(tree.items())}

    write_flax_msgpack(tmp_path / "theta.state", authors_order(to_reference(name, theta)))
    digest = hashlib.sha256((tmp_path / "theta.state").read_bytes()).hexdigest()
    assert digest == info["provenance"]["source"]["sha256"]


def test_celo_weight_files_foreign_or_truncated_are_refused(tmp_path):
    theta = la.celo().init_meta_params(jax.random.PRNGKey(0))
    path = tmp_path / "theta.state"
    write_flax_msgpack(path, to_reference("celo", theta))
    jax.tree.map(np.testing.assert_array_equal, lopt_pretrained.load_reference_checkpoint(path, "celo"), theta)
    with pytest.raises(CheckpointFormatError, match="does not hold celo_adam meta-parameters: .*unexpected leaves"):
        lopt_pretrained.load_reference_checkpoint(path, "celo_adam")
    with open(path, "r+b") as f:
        f.truncate(os.path.getsize(path) - 100)
    with pytest.raises(CheckpointFormatError, match=str(path)):
        lopt_pretrained.load_reference_checkpoint(path, "celo")
