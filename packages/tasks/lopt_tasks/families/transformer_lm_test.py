import math

import jax
import numpy as np

from lopt_tasks.families.checks import all_finite, num_params, run_batch
from lopt_tasks.families.transformer_lm import TransformerLMFamily

FAMILY = TransformerLMFamily()


def test_a_vmapped_batch_starts_near_ln_vocabulary():
    cfgs, losses, grads = run_batch(FAMILY, jax.random.PRNGKey(0), 4)
    v = math.log(cfgs.structure.vocab_size)
    assert np.all((0.5 * v < losses) & (losses < 2 * v)) and all_finite(grads)
    task = FAMILY.task(jax.tree_util.tree_map(lambda x: x[0], cfgs))
    assert task.normalizer == v
    assert task.datasets["train"].batch(0, 0)["tokens"].shape == (cfgs.structure.text_data.batch_size, cfgs.structure.text_data.sequence_length + 1)


def test_sampling_is_deterministic_and_structures_vary():
    structures = [FAMILY.sample_structure(jax.random.PRNGKey(i)) for i in range(40)]
    assert FAMILY.sample_structure(jax.random.PRNGKey(3)) == structures[3]
    assert {s.num_layers for s in structures} == {1, 2} and {s.num_heads for s in structures} == {1, 2, 3, 4}
    assert len({s.vocab_size for s in structures}) > 20 and all(64 <= s.vocab_size <= 256 for s in structures)
    assert len({s.text_data.sequence_length for s in structures}) > 10
    sizes = {num_params(FAMILY, FAMILY.sample(jax.random.PRNGKey(i))) for i in range(10)}
    assert len(sizes) == 10
