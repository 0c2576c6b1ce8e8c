"""nn_adam, rnn_fc_lopt and VeLO against outputs recorded from the reference implementation.

testdata/record_hierarchical_vectors.py made the files with
google/learned_optimization at commit 32186aa4: meta-parameters, a parameter
tree with leaves of rank 0 to 4, four steps of gradients, losses (and keys),
and the reference's parameters after each step. For the released VeLO
configuration θ is not stored but rebuilt from the formula the script
documents.
"""

import pathlib

import jax
import jax.numpy as jnp
import lopt_architectures as la
import numpy as np
import pytest

from lopt_pretrained.checkpoints import load_reference_checkpoint
from lopt_pretrained.reference import from_reference

TESTDATA = pathlib.Path(__file__).parent / "testdata"
SEP = "::"


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
    if not theta:  # the released configuration: rebuild θ from its formula
        paths = sorted(SEP.join(parts[1:]) for parts in split.values() if parts[0] == "theta_shape")
        flat = {}
        for i, path in enumerate(paths):
            shape = tuple(arrays[f"theta_shape{SEP}{path}"])
            scale = arrays[f"theta_scale{SEP}{path}"]
            size = int(np.prod(shape))
            values = np.sin(0.37 * np.arange(size, dtype=np.float64) + 1.3 * i) * scale
            flat[tuple(path.split(SEP))] = values.astype(np.float32).reshape(shape)
        theta = _nested(flat)

    def tree(prefix):
        return {parts[1]: jnp.asarray(arrays[key]) for key, parts in split.items() if parts[0] == prefix}

    steps = [
        (tree(f"grads_{t}"), arrays[f"loss_{t}"], arrays.get(f"key_{t}"), tree(f"params_{t}"))
        for t in range(1, 5)
    ]
    return theta, tree("params_0"), steps, int(arrays["num_steps"])


CASES = {
    "nn_adam": ("nn_adam", la.nn_adam()),
    "rnn_fc_lopt": ("rnn_fc_lopt", la.rnn_fc_lopt()),
    "velo_small": ("velo", la.VeLO(lstm_hidden_size=16, bank_size=4)),
    "velo": ("velo", la.velo()),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_reference_outputs(name):
    arch, lopt = CASES[name]
    theta_tree, params, steps, num_steps = load(name)
    opt = lopt.optimizer(from_reference(arch, theta_tree, lopt=lopt))
    state = opt.init(params, num_steps=num_steps)
    update = jax.jit(opt.update)
    for t, (grads, loss, key, expected) in enumerate(steps, start=1):
        state = update(state, grads, loss=loss, key=None if key is None else jnp.asarray(key))
        for leaf, want in expected.items():
            got = np.asarray(opt.get_params(state)[leaf])
            # Compare the displacement from the start, so small steps are held to the tolerance too.
            start = np.asarray(params[leaf])
            np.testing.assert_allclose(got - start, np.asarray(want) - start, rtol=2e-5, atol=2e-6,
                                       err_msg=f"{name} step {t} leaf {leaf}")


def test_checkpoint_written_by_the_reference_loads():
    lopt = la.VeLO(lstm_hidden_size=16, bank_size=4)
    theta = load_reference_checkpoint(TESTDATA / "velo_small_checkpoint", "velo", lopt=lopt)
    theta_tree, _, _, _ = load("velo_small")
    jax.tree.map(np.testing.assert_array_equal, theta, from_reference("velo", theta_tree, lopt=lopt))
