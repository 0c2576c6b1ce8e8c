"""Records parity vectors from Google's reference learned optimizers.

What it writes (next to this file):

* ``small_fc_lopt_reference.npz`` -- ``adafac_mlp_lopt.AdafacMLPLOpt()``
  (default args; 197 meta-parameters), seed 0.
* ``fc_lopt_reference.npz`` -- ``mlp_lopt.MLPLOpt()`` (default args; 1762
  meta-parameters), seed 1.

Each file holds a perturbed meta-parameter set theta, a small parameter tree,
three steps of gradients and losses, and the parameters the reference
produced after each step. Our own implementations load theta, replay the same
gradients and must reproduce ``params_1..3``. Keys (all float32 unless said):

* ``theta::<seg>::<seg>...`` -- every theta leaf, ``::`` joining the key path
  of ``flax.serialization.to_state_dict(theta)`` (segments may contain ``/``
  or ``~``, e.g. ``theta::nn::~::w0``, ``theta::mlp/~/linear_0::w``);
* ``params_0::<leaf>`` -- initial params; leaves ``a_scalar`` (),
  ``b_vector`` (5,), ``c_matrix`` (4, 3), ``d_rank3`` (2, 3, 4),
  ``e_conv`` (3, 3, 2, 4);
* ``grads_<t>::<leaf>``, ``loss_<t>`` (0-d), ``params_<t>::<leaf>`` for
  t = 1, 2, 3;
* ``num_steps`` -- int32 0-d, the ``num_steps`` passed to ``opt.init`` (100).

How theta is made: ``lopt.init(PRNGKey(seed))``, then, so that the vectors
exercise more than the trivial initialisation,

* every bias leaf (zero at init) gets N(0, 0.1) noise;
* for small_fc_lopt the three decay offsets (``momentum_decays``,
  ``rms_decays``, ``adafactor_decays``; zero at init) are set to N(0, 0.1);
* the final layer's weights (small_fc_lopt ``nn/~/w2``, fc_lopt
  ``mlp/~/linear_2/w``) are multiplied by 100 (``FINAL_LAYER_SCALE``). The
  reference multiplies the MLP outputs by ``step_mult = 0.001``, so with the
  init weights a step moves parameters by ~1e-4, too close to float32 noise
  for a useful comparison; x100 gives per-leaf changes of roughly 1e-3..1e-1
  over the three steps (printed at the end of a run).

The noise comes from ``numpy.random.default_rng(seed + 100)``, params from
``default_rng(seed + 200)`` and the step-t gradients from
``default_rng(seed + 300 + t)``.

How to run (a throw-away environment; nothing of the reference is committed):

    REF=/tmp/refwork
    MIRROR=/work/.mirror/google+learned_optimization/repo   # bare git mirror
    mkdir -p $REF/src
    # Reference commit used: 32186aa46a96f26ba0625755f93c55659adcd523
    git --git-dir=$MIRROR archive 32186aa46a96f26ba0625755f93c55659adcd523 \\
        -- . ':(exclude)learned_optimization/baselines/data' \\
        | tar -x -C $REF/src
    # (baselines/data holds large blobs the mirror lacks; not needed here.)
    python3 -m venv $REF/venv
    $REF/venv/bin/pip install jax==0.10.2 jaxlib==0.10.2 dm-haiku==0.0.17 \\
        optax==0.2.8 chex==0.1.92 numpy==2.4.6 flax gin-config
    # The reference imports tensorflow (summary.py: tensorflow.compat.v2) but
    # these optimizers never call it: a stub package whose modules answer
    # every attribute with a MagicMock is enough. Needed modules:
    #   $REF/stubs/tensorflow/__init__.py
    #   $REF/stubs/tensorflow/compat/__init__.py
    #   $REF/stubs/tensorflow/compat/v2/__init__.py
    # each containing:
    #   from unittest import mock
    #   def __getattr__(name):
    #       return mock.MagicMock(name=name)
    PYTHONPATH=$REF/src:$REF/stubs $REF/venv/bin/python \\
        packages/pretrained/lopt_pretrained/testdata/record_reference_vectors.py

(An "Oryx not found" log line from the reference's summary module is
harmless.) The run is deterministic on CPU; rerunning rewrites both files.
"""

import os

import flax.serialization
import jax
import jax.numpy as jnp
import numpy as np
from learned_optimization.learned_optimizers import adafac_mlp_lopt, mlp_lopt
from recording import PARAM_SHAPES, SEP, flatten, get_in, leaf_paths, make_grads, make_params, set_in


#: Passed to ``opt.init``; AdafacMLPLOpt requires it, MLPLOpt ignores it.
NUM_STEPS = 100

#: Number of optimizer steps recorded.
NUM_UPDATES = 3

#: Standard deviation of the noise put on theta's zero-initialised leaves.
THETA_NOISE_STD = 0.1

#: Multiplier on the final layer's weights (see module docstring).
FINAL_LAYER_SCALE = 100.0


#: name -> (constructor, seed, key path of the final layer's weights, extra
#: zero-initialised leaves to randomise).
ARCHITECTURES = {
    "small_fc_lopt": (
        adafac_mlp_lopt.AdafacMLPLOpt,
        0,
        ("nn", "~", "w2"),
        [("momentum_decays",), ("rms_decays",), ("adafactor_decays",)],
    ),
    "fc_lopt": (
        mlp_lopt.MLPLOpt,
        1,
        ("mlp/~/linear_2", "w"),
        [],
    ),
}

HERE = os.path.dirname(os.path.abspath(__file__))


def make_theta(lopt, seed, final_layer, decay_leaves):
    """The reference init, made less trivial (see module docstring).

    Returns theta as a nested dict of float32 numpy arrays; this exact dict
    is both handed to the reference and saved.
    """
    theta = flax.serialization.to_state_dict(lopt.init(jax.random.PRNGKey(seed)))
    theta = jax.tree_util.tree_map(lambda x: np.array(x, dtype=np.float32), theta)
    rng = np.random.default_rng(seed + 100)
    # Bias leaves are the ones named "b" or "b<i>"; both init at zero, so
    # without noise a bias bug would go unnoticed.
    bias_paths = [p for p in leaf_paths(theta) if p[-1].rstrip("0123456789") == "b"]
    for path in bias_paths + list(decay_leaves):
        leaf = get_in(theta, path)
        noise = rng.normal(0.0, THETA_NOISE_STD, size=leaf.shape)
        set_in(theta, path, (leaf + noise).astype(np.float32))
    scaled = get_in(theta, final_layer) * np.float32(FINAL_LAYER_SCALE)
    set_in(theta, final_layer, scaled.astype(np.float32))
    return theta


def record(name):
    """Runs the reference for NUM_UPDATES steps; returns the arrays to save."""
    constructor, seed, final_layer, decay_leaves = ARCHITECTURES[name]
    lopt = constructor()
    theta = make_theta(lopt, seed, final_layer, decay_leaves)
    params = make_params(seed)

    arrays = flatten(theta, "theta")
    arrays.update(flatten(params, "params_0"))
    arrays["num_steps"] = np.asarray(NUM_STEPS, dtype=np.int32)

    opt = lopt.opt_fn(jax.tree_util.tree_map(jnp.asarray, theta))
    state = opt.init(jax.tree_util.tree_map(jnp.asarray, params), num_steps=NUM_STEPS)
    for t in range(1, NUM_UPDATES + 1):
        grads = make_grads(seed, t)
        loss = np.float32(2.0 / t)
        # Both reference updates take ``loss`` as their third argument; neither
        # uses it for these architectures, but we record it so that ours can be
        # called the same way.
        state = opt.update(
            state, jax.tree_util.tree_map(jnp.asarray, grads), loss=jnp.asarray(loss)
        )
        arrays.update(flatten(grads, f"grads_{t}"))
        arrays[f"loss_{t}"] = np.asarray(loss, dtype=np.float32)
        arrays.update(flatten(opt.get_params(state), f"params_{t}"))
    return arrays


def summarize(name, path):
    """Reloads a written file and prints what a reader should sanity-check."""
    with np.load(path) as data:
        theta_keys = [k for k in data.files if k.startswith("theta" + SEP)]
        n_meta = sum(data[k].size for k in theta_keys)
        print(f"{name}: {os.path.basename(path)} ({os.path.getsize(path)} bytes)")
        print(f"  theta leaves: {len(theta_keys)}, meta-parameters: {n_meta}")
        for leaf in PARAM_SHAPES:
            before = data[f"params_0{SEP}{leaf}"]
            after = data[f"params_{NUM_UPDATES}{SEP}{leaf}"]
            change = np.max(np.abs(after - before))
            print(f"  max |params_{NUM_UPDATES} - params_0| {leaf:9s}: {change:.3e}")


def main():
    for name in ARCHITECTURES:
        path = os.path.join(HERE, f"{name}_reference.npz")
        np.savez(path, **record(name))
        summarize(name, path)


if __name__ == "__main__":
    main()
