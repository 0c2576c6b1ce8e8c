"""Celo, Celo-Adam and Celo2 against outputs recorded from the authors' code (amoudgl/celo).

testdata/record_celo_vectors.py made the files with amoudgl/celo at commit
66d97611 (on google/learned_optimization at 32186aa4): meta-parameters (for
Celo and Celo-Adam the released weights), a parameter tree with leaves of
rank 0 to 4, five steps of gradients and losses, the parameters their code
produced after each step and, for the two scheduled optimizers, the
scheduler's per-step inputs, LSTM state and step multiplier λ.
"""

import importlib
import pathlib

import jax
import jax.numpy as jnp
import lopt_architectures as la
import lopt_features as lf
import numpy as np
import pytest

from lopt_pretrained.reference import from_reference

TESTDATA = pathlib.Path(__file__).parent / "testdata"
SEP = "::"
STEPS = 5
# The module, not the `celo` constructor that lopt_architectures exports under the same name.
celo_module = importlib.import_module("lopt_architectures.celo")


def _nested(flat: dict) -> dict:
    tree: dict = {}
    for path, value in flat.items():
        node = tree
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
    return tree


def load(name):
    with np.load(TESTDATA / f"{name}_reference.npz") as data:
        arrays = {key: data[key] for key in data.files}
    split = {key: key.split(SEP) for key in arrays}
    theta = _nested({tuple(parts[1:]): arrays[key] for key, parts in split.items() if parts[0] == "theta"})

    def tree(prefix):
        return {parts[1]: jnp.asarray(arrays[key]) for key, parts in split.items() if parts[0] == prefix}

    steps = [(tree(f"grads_{t}"), arrays[f"loss_{t}"], tree(f"params_{t}")) for t in range(1, STEPS + 1)]
    return theta, tree("params_0"), steps, arrays


def _celo2(name, **config):
    arrays = load(name)[3]
    # Celo2Base has no hand-designed path: every leaf goes through the learned rule.
    regex = str(arrays["regex_1d"]) if "regex_1d" in arrays else ""
    return la.celo2(adam_pattern=regex, **config)


CASES = {
    "celo": lambda: ("celo", la.celo()),
    "celo_phase1": lambda: ("celo", la.celo(use_scheduler=False)),
    "celo_adam": lambda: ("celo_adam", la.celo_adam()),
    "celo2": lambda: ("celo2", _celo2("celo2")),
    "celo2_all_mlp": lambda: ("celo2", _celo2("celo2_all_mlp", weight_decay=0.1)),
    "celo2_base": lambda: ("celo2", _celo2("celo2_base", orthogonalize=False)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_the_authors_outputs(name):
    arch, lopt = CASES[name]()
    theta_tree, params, steps, arrays = load(name)
    opt = lopt.optimizer(from_reference(arch, theta_tree, lopt=lopt))
    state = opt.init(params, num_steps=int(arrays["num_steps"]) if "num_steps" in arrays else None)
    update = jax.jit(opt.update)
    for t, (grads, loss, expected) in enumerate(steps, start=1):
        state = update(state, grads, loss=loss)
        for leaf, want in expected.items():
            got = np.asarray(opt.get_params(state)[leaf])
            # Compare the displacement from the start, so small steps are held to the tolerance too.
            start = np.asarray(params[leaf])
            np.testing.assert_allclose(got - start, np.asarray(want) - start, rtol=2e-5, atol=2e-6,
                                       err_msg=f"{name} step {t} leaf {leaf}")
        if "lstm_hidden_1" in arrays:
            # The reference keeps one LSTM row per tensor; all rows are equal, and equal to our single row.
            for field in ("hidden", "cell"):
                rows = arrays[f"lstm_{field}_{t}"].reshape(-1, lopt.lstm_hidden_size)
                np.testing.assert_allclose(np.broadcast_to(getattr(state.lstm_state, field), rows.shape), rows,
                                           rtol=1e-5, atol=1e-6, err_msg=f"{name} step {t} LSTM {field}")


@pytest.mark.parametrize("name", ["celo", "celo_adam"])
def test_scheduler_inputs_and_step_multiplier(name):
    """The 18 task-agnostic inputs and λ of every step, recomputed from the losses alone."""
    arch, lopt = CASES[name]()
    theta_tree, _, steps, arrays = load(name)
    scheduler = from_reference(arch, theta_tree, lopt=lopt)["scheduler"]
    num_steps = int(arrays["num_steps"])

    @jax.jit
    def step(buffer, lstm, loss, t):
        buffer = lf.loss_buffer_update(buffer, loss)
        features = lf.celo_scheduler_features(lf.fraction_trained_features(t / num_steps),
                                              lf.loss_buffer_features(buffer))
        return buffer, features, *celo_module.scheduler_step(scheduler, features, lstm)

    buffer = lf.loss_buffer_init(num_steps)
    lstm = celo_module.initial_scheduler_state(scheduler)
    for t, (_, loss, _) in enumerate(steps, start=1):
        buffer, features, lr_mult, lstm = step(buffer, lstm, loss, t - 1)
        # At step 3 the loss features divide by a near-zero difference of averages: float32 rounding
        # in another operation order moves them by ~1e-3 (a float64 run of the authors' code does too).
        np.testing.assert_allclose(features, np.asarray(arrays[f"lstm_input_{t}"]).reshape(-1, 18)[0],
                                   rtol=1e-5, atol=3e-3, err_msg=f"{name} step {t} inputs")
        np.testing.assert_allclose(np.broadcast_to(lr_mult, np.shape(arrays[f"lr_mult_{t}"])),
                                   arrays[f"lr_mult_{t}"], rtol=1e-3, err_msg=f"{name} step {t} λ")
