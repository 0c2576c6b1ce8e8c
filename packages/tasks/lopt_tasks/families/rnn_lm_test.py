import math

import haiku as hk
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lopt_tasks.families.checks import all_finite, num_params, run_batch
from lopt_tasks.families.rnn_lm import RecurrentCell, RNNLMFamily

FAMILY = RNNLMFamily()


@pytest.mark.parametrize("cell", ["lstm", "gru", "vanilla"])
def test_a_vmapped_batch_of_each_cell_starts_near_ln_vocabulary(cell):
    family = RNNLMFamily(cells=(cell,))
    cfgs, losses, grads = run_batch(family, jax.random.PRNGKey(0), 4)
    v = math.log(cfgs.structure.vocab_size)
    assert cfgs.structure.cell == cell
    assert np.all((0.5 * v < losses) & (losses < 2 * v)) and all_finite(grads)


def test_cells_match_their_equations():
    x, h, c = jnp.ones((1, 2)), jnp.full((1, 3), 0.5), jnp.full((1, 3), -0.2)
    ones = lambda shape, dtype: jnp.full(shape, 0.1, dtype)  # noqa: E731

    def run(kind, state):
        cell = hk.transform(lambda: RecurrentCell(kind, 3, ones)(x, state))
        return cell.apply(cell.init(None), None)

    # With all weights 0.1 and zero biases, every pre-activation is 0.1 · (sum of inputs) = 0.1 · (2 + 1.5) = 0.35.
    np.testing.assert_allclose(run("vanilla", h)[0], np.tanh(0.35), rtol=1e-6)
    z = 1 / (1 + np.exp(-0.35))
    candidate = np.tanh(0.1 * 2 + z * 0.1 * 1.5)
    np.testing.assert_allclose(run("gru", h)[0], (1 - z) * candidate + z * 0.5, rtol=1e-6)
    sig = lambda a: 1 / (1 + np.exp(-a))  # noqa: E731
    new_c = sig(1.35) * -0.2 + sig(0.35) * np.tanh(0.35)
    np.testing.assert_allclose(run("lstm", (h, c))[1][1], new_c, rtol=1e-6)
    np.testing.assert_allclose(run("lstm", (h, c))[0], sig(0.35) * np.tanh(new_c), rtol=1e-6)


def test_sampling_is_deterministic_and_structures_vary():
    structures = [FAMILY.sample_structure(jax.random.PRNGKey(i)) for i in range(40)]
    assert FAMILY.sample_structure(jax.random.PRNGKey(3)) == structures[3]
    assert {s.cell for s in structures} == {"lstm", "gru", "vanilla"}
    assert len({s.rnn_size for s in structures}) > 10 and len({s.embed_size for s in structures}) > 8
    sizes = {num_params(FAMILY, FAMILY.sample(jax.random.PRNGKey(i))) for i in range(10)}
    assert len(sizes) == 10
