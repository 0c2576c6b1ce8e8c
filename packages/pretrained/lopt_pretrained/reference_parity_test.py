"""Our small_fc_lopt and fc_lopt against outputs recorded from the reference implementation.

testdata/record_reference_vectors.py made the .npz files with
google/learned_optimization at commit 32186aa4 (random meta-parameters, a
parameter tree with leaves of rank 0 to 4, three update steps).
"""

import pathlib

import jax
import jax.numpy as jnp
import lopt_architectures as la
import numpy as np
import pytest

from lopt_pretrained.reference import from_reference

TESTDATA = pathlib.Path(__file__).parent / "testdata"
SEP = "::"


def load_vectors(arch):
    with np.load(TESTDATA / f"{arch}_reference.npz") as data:
        arrays = {key: data[key] for key in data.files}
    theta_tree: dict = {}
    for key, value in arrays.items():
        parts = key.split(SEP)
        if parts[0] == "theta":
            node = theta_tree
            for part in parts[1:-1]:
                node = node.setdefault(part, {})
            node[parts[-1]] = value

    def tree(prefix):
        return {k.split(SEP)[1]: jnp.asarray(v) for k, v in arrays.items() if k.split(SEP)[0] == prefix}

    steps = [(tree(f"grads_{t}"), arrays[f"loss_{t}"], tree(f"params_{t}")) for t in (1, 2, 3)]
    return theta_tree, tree("params_0"), steps, int(arrays["num_steps"])


CASES = [
    ("small_fc_lopt", la.SmallFcLOpt(fused=True)),
    ("small_fc_lopt", la.SmallFcLOpt(fused=False)),
    ("fc_lopt", la.FcLOpt()),
]


@pytest.mark.parametrize("arch,lopt", CASES, ids=["small_fc_lopt-fused", "small_fc_lopt-plain", "fc_lopt"])
def test_matches_reference_outputs(arch, lopt):
    theta_tree, params, steps, num_steps = load_vectors(arch)
    opt = lopt.optimizer(from_reference(arch, theta_tree, lopt=lopt))
    state = opt.init(params, num_steps=num_steps)
    update = jax.jit(opt.update)
    for t, (grads, loss, expected) in enumerate(steps, start=1):
        state = update(state, grads, loss=loss)
        for name, want in expected.items():
            got = np.asarray(opt.get_params(state)[name])
            moved = np.max(np.abs(np.asarray(want) - np.asarray(params[name])))
            assert moved > 1e-4, "the recorded step is too small to test anything"
            np.testing.assert_allclose(got, want, rtol=1e-6, atol=2e-6, err_msg=f"{arch} step {t} leaf {name}")
