"""Records parity vectors for the reference's hierarchical learned optimizers.

The companion of ``record_reference_vectors.py`` (same environment, same key
layout, same parameter tree) for the three optimizers that carry a per-tensor
LSTM: NNAdam, RNNMLPLOpt ("rnn_fc_lopt") and HyperV2 (VeLO).

What it writes (next to this file):

* ``nn_adam_reference.npz`` -- ``nn_adam.NNAdam()`` (default args; 6856
  meta-parameters), seed 2.
* ``rnn_fc_lopt_reference.npz`` -- ``rnn_mlp_lopt.RNNMLPLOpt()`` (default
  args; 35799 meta-parameters), seed 3. Training updates only
  (``is_valid=False``).
* ``velo_small_reference.npz`` -- ``hyper_v2.HyperV2(lstm_hidden_size=16,
  param_inits=4, use_bugged_loss_features=False)`` (4353 meta-parameters),
  seed 4.
* ``velo_reference.npz`` -- the released VeLO configuration
  ``hyper_v2.HyperV2(lstm_hidden_size=512, param_inits=256,
  use_bugged_loss_features=False)`` (2,320,385 meta-parameters), seed 5.
  Theta is NOT stored (9 MB); it is a closed formula, see below.
* ``velo_small_checkpoint`` -- the velo_small theta written in the
  reference's on-disk format for learned-optimizer weights (the format of the
  released VeLO ``params`` file), see "Checkpoint" below.

Each .npz holds a small parameter tree, four steps of gradients, losses (and
PRNG keys for VeLO), and the parameters the reference produced after each
step. Our implementations load (or rebuild) theta, replay the same inputs and
must reproduce ``params_1..4``. Keys (all float32 unless said):

* ``theta::<seg>::<seg>...`` -- every theta leaf (not in velo_reference),
  ``::`` joining the key path of ``flax.serialization.to_state_dict(theta)``
  (e.g. ``theta::rnn_params::rnn/linear::w``, ``theta::ff_mod_stack::~::w0__3``,
  ``theta::lstm_init_state::hidden``; NNAdam's theta is a FrozenDict and the
  LSTM init state a haiku ``LSTMState`` namedtuple, both flattened the same
  way, the namedtuple by field name);
* velo_reference only: ``theta_shape::<path>`` (int32 vector, the leaf's
  shape) and ``theta_scale::<path>`` (float64 0-d, the leaf's scale) for every
  theta leaf, ``<path>`` as above;
* ``params_0::<leaf>`` -- initial params; leaves ``a_scalar`` (),
  ``b_vector`` (5,), ``c_matrix`` (4, 3), ``d_rank3`` (2, 3, 4),
  ``e_conv`` (3, 3, 2, 4);
* ``grads_<t>::<leaf>``, ``loss_<t>`` (0-d), ``params_<t>::<leaf>`` for
  t = 1..4; losses are 2.3, 1.9, 2.1, 1.5;
* VeLO files only: ``key_<t>`` -- uint32 (2,), ``jax.random.PRNGKey(t)``,
  the ``key`` passed to update t (VeLO requires one; it does not change the
  result);
* ``num_steps`` -- int32 0-d, the ``num_steps`` passed to ``opt.init`` (100).

How the update is called (the reference's conventions):

* NNAdam: ``opt.update(state, grads, loss=loss)``;
* RNNMLPLOpt: ``opt.update(state, grads, loss=loss, is_valid=False)``;
* HyperV2: ``opt.update(state, grads, loss=loss, key=key_t)``.

How theta is made for the first three files: ``lopt.init(PRNGKey(seed))``,
converted to a state dict of float32 arrays, then, so that the vectors
exercise more than the trivial initialisation, N(0, 0.1) noise
(``THETA_NOISE_STD``) is added to

* every bias leaf (named ``b`` or ``b<digits>``; zero at init);
* every ``lstm_init_state`` leaf (``hidden``, ``cell``; zero at init);
* NNAdam: ``rnn_to_controls_params::rnn_to_controls::w`` (zero at init,
  which would leave the LSTM path without effect);
* RNNMLPLOpt: ``initial_from_lstm`` and ``initial_from_mlp``;

in sorted key-path order, all drawn one leaf after another from
``numpy.random.default_rng(seed + 100)``. NNAdam's perturbed
``rnn_to_controls`` weights and bias are then multiplied by 30
(``NN_ADAM_CONTROLS_SCALE``): its controls are scaled by 0.01 before they move
the hyperparameters, and without this the LSTM's influence on the steps
(~1e-5) is below what a float32 comparison can check. Step sizes: with the init weights a
RNNMLPLOpt step is ~1e-4, too close to float32 noise, so columns 0 and 1
(direction, magnitude) of ``ffmod_params::mlp/~/linear_2::w`` are multiplied
by 100 (``FINAL_LAYER_SCALE``); columns 2..17 (fed back to the LSTM) are left
alone. NNAdam (step ~ lr * m / sqrt(v), lr = 1e-4 at first) and velo_small
(its 4 MLP copies are mixed as 100 * mean, i.e. 25 * sum, of the copies) need
no scaling; the printed summary shows the per-step changes.

How velo_reference's theta is made (reproducible without haiku): take the
leaves of the state dict of the reference init (33 leaves), with their paths
joined by ``::`` as above (without the ``theta::`` prefix), and sort the path
strings with Python's ``sorted`` (code-point order; the script checks this is
also the nested-dict / jax flattening order). Leaf i (i = 0, 1, ..., 32; i = 0
is ``ff_mod_stack::~::b0``, i = 32 is ``rnn_params::step_size::w``) with
shape ``shape`` (``theta_shape::<path>``), ``size = prod(shape)`` and scale
``scale`` (the float64 ``theta_scale::<path>``) is::

    (np.sin(0.37 * np.arange(size, dtype=np.float64) + 1.3 * i) * scale)
        .astype(np.float32).reshape(shape)

i.e. computed in float64, multiplied by the float64 scale, cast to float32
once. The scale rule (``velo_scale``), first match wins:

* every leaf under ``ff_mod_stack::``: 20.0 (``VELO_FF_STACK_SCALE``);
* ``lstm_init_state::cell`` / ``::hidden``: 0.1;
* ``rnn_params::step_size::w`` (512, 1): ``(1.0 / np.sqrt(np.float64(512)))
  * np.float64(10.0)``; ``rnn_params::step_size::b`` (1,): ``np.float64(0.1)
  * np.float64(10.0)`` (= 1.0) (``VELO_STEP_SIZE_SCALE`` = 10 times the rank
  rule below);
* any other leaf of rank >= 2: ``1.0 / np.sqrt(np.float64(shape[0]))``;
* any other leaf (rank <= 1): ``np.float64(0.1)``.

Why not plain 1/sqrt(fan-in): VeLO mixes its 256 MLP copies as
``100 * mean_k(control_k * W_k)``; with sinusoidal controls and weights that
sum nearly cancels (about 30x more than for random weights), which left steps
of ~1e-6. The larger ``ff_mod_stack`` and ``step_size`` scales and a smaller
LSTM init state give per-step changes of ~1e-3..1e-2 (printed summary). The
trajectory is well conditioned: the reference run in float64 differs from the
float32 run by at most ~3e-7 in any parameter.

Checkpoint (``velo_small_checkpoint``): the reference stores meta-parameters
as ``flax.serialization.to_bytes(ParameterCheckpoint(params=theta, gen_id,
step))`` (``outer_trainers/gradient_learner.py``), written by
``checkpoints.save_state`` / flax's ``save_checkpoint`` (file ``params_<n>``
during meta-training; the released file is called ``params``) and read by
``checkpoints.load_state(path, ParameterCheckpoint(lopt.init(key), "", 0))``
(``learned_optimizers/opt_from_checkpoint.py``). So the file is one msgpack
map ``{"params": <theta state dict>, "gen_id": <str>, "step": <int or 0-d
int array>}`` with no file header or magic. Nested dicts are msgpack maps
with str keys in the order the reference's init built them, not sorted
(``lstm_init_state``, ``rnn_params``, ``ff_mod_stack``; ``hidden`` before
``cell``; haiku's ``w`` before ``b``; but ``ff_mod_stack::~`` sorted, as it
went through ``jax.vmap``); every array is msgpack ext type 1 whose
payload is itself msgpack: a 3-array ``[shape (array of ints), dtype name
(str, e.g. "float32"), C-order bytes (bin)]``. Here gen_id is
``"fake_initial_gen_id"`` (what ``outer_train.py`` uses outside population
training) and step is a 0-d int32 array (4), as ``outer_train.py`` passes the
meta-optimizer's int32 iteration. (With that header the full VeLO theta
serialises to exactly 9,282,564 bytes, the reported size of the released
``params`` file.) The script writes the file with ``checkpoints.save_state``,
reads it back with ``checkpoints.load_state`` and checks that every leaf
equals the velo_small theta bit for bit.

The noise comes from ``numpy.random.default_rng(seed + 100)``, params from
``default_rng(seed + 200)`` and the step-t gradients from
``default_rng(seed + 300 + t)`` (per-leaf scales ``GRAD_SCALES``).

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
    #   $REF/stubs/tensorflow/io/__init__.py
    # each containing:
    #   from unittest import mock
    #   def __getattr__(name):
    #       return mock.MagicMock(name=name)
    # (tensorflow/io is needed by this script only: the reference's
    # checkpoints.py imports flax.training.checkpoints, whose flax.io does
    # ``from tensorflow.io import gfile`` whenever a tensorflow package is
    # found. Local files are still read and written with open().)
    PYTHONPATH=$REF/src:$REF/stubs $REF/venv/bin/python \\
        packages/pretrained/lopt_pretrained/testdata/record_hierarchical_vectors.py

(Versions used for the committed files: flax 0.12.8, msgpack 1.2.4. "Oryx not
found" and "bugged loss features" log lines are harmless.) The run is
deterministic on CPU; rerunning rewrites all five files.
"""

import os

import flax.serialization
import jax
import jax.numpy as jnp
import msgpack
import numpy as np
from learned_optimization import checkpoints
from learned_optimization.learned_optimizers import nn_adam, rnn_mlp_lopt
from learned_optimization.outer_trainers import gradient_learner
from learned_optimization.research.general_lopt import hyper_v2
from recording import PARAM_SHAPES, SEP, flatten, get_in, leaf_paths, make_grads, make_params, set_in


#: Passed to ``opt.init`` (NNAdam and HyperV2 use it; RNNMLPLOpt ignores it).
NUM_STEPS = 100

#: Loss passed to update t (index t - 1); varying, so that the loss features
#: of RNNMLPLOpt and VeLO are non-trivial.
LOSSES = (2.3, 1.9, 2.1, 1.5)

#: Number of optimizer steps recorded.
NUM_UPDATES = len(LOSSES)

#: Standard deviation of the noise put on theta (see module docstring).
THETA_NOISE_STD = 0.1

#: Multiplier on NNAdam's (perturbed) rnn_to_controls weights and bias, so the
#: LSTM path moves the hyperparameters by a visible amount (module docstring).
NN_ADAM_CONTROLS_SCALE = 30.0

#: RNNMLPLOpt: multiplier on the direction/magnitude columns of the last layer.
FINAL_LAYER_SCALE = 100.0

#: velo_reference: scale of every ``ff_mod_stack`` leaf.
VELO_FF_STACK_SCALE = 20.0

#: velo_reference: factor on the rank rule for ``rnn_params::step_size::*``.
VELO_STEP_SIZE_SCALE = 10.0

#: Checkpoint header fields (see module docstring): outer_train.py's gen_id
#: when not training a population, and a step stored as its int32 iteration.
CHECKPOINT_GEN_ID = "fake_initial_gen_id"
CHECKPOINT_STEP = 4


HERE = os.path.dirname(os.path.abspath(__file__))


def velo_small():
    return hyper_v2.HyperV2(
        lstm_hidden_size=16, param_inits=4, use_bugged_loss_features=False
    )


def velo_released():
    return hyper_v2.HyperV2(
        lstm_hidden_size=512, param_inits=256, use_bugged_loss_features=False
    )


# ---------------------------------------------------------------------------
# Nested-dict helpers.


def init_state_dict(lopt, seed):
    """(reference init theta, its state dict as float32 numpy arrays)."""
    template = lopt.init(jax.random.PRNGKey(seed))
    theta = flax.serialization.to_state_dict(template)
    theta = jax.tree_util.tree_map(lambda x: np.array(x, dtype=np.float32), theta)
    return template, theta


def to_reference(template, theta):
    """State dict -> the reference's own theta type (FrozenDict, LSTMState)."""
    return flax.serialization.from_state_dict(
        template, jax.tree_util.tree_map(jnp.asarray, theta)
    )


# ---------------------------------------------------------------------------
# Theta for each file.


def perturb(theta, seed, extra_leaves):
    """Adds N(0, THETA_NOISE_STD) to biases, LSTM init states and extras."""
    rng = np.random.default_rng(seed + 100)
    for path in leaf_paths(theta):
        is_bias = path[-1].rstrip("0123456789") == "b"
        if is_bias or path[0] == "lstm_init_state" or path in extra_leaves:
            leaf = get_in(theta, path)
            noise = rng.normal(0.0, THETA_NOISE_STD, size=leaf.shape)
            set_in(theta, path, (leaf + noise).astype(np.float32))
    return theta


def theta_nn_adam(lopt, seed):
    template, theta = init_state_dict(lopt, seed)
    extra = {("rnn_to_controls_params", "rnn_to_controls", "w")}
    theta = perturb(theta, seed, extra)
    # The controls are multiplied by output_scale = 0.01 before they move the
    # hyperparameters; scaled up, the LSTM's features visibly change the steps.
    for leaf in ("w", "b"):
        path = ("rnn_to_controls_params", "rnn_to_controls", leaf)
        set_in(theta, path, (get_in(theta, path) * np.float32(NN_ADAM_CONTROLS_SCALE)).astype(np.float32))
    return template, theta


def theta_rnn_fc_lopt(lopt, seed):
    template, theta = init_state_dict(lopt, seed)
    extra = {("initial_from_lstm",), ("initial_from_mlp",)}
    theta = perturb(theta, seed, extra)
    path = ("ffmod_params", "mlp/~/linear_2", "w")
    w = get_in(theta, path).copy()
    w[:, 0:2] *= np.float32(FINAL_LAYER_SCALE)
    set_in(theta, path, w.astype(np.float32))
    return template, theta


def theta_velo_small(lopt, seed):
    template, theta = init_state_dict(lopt, seed)
    return template, perturb(theta, seed, set())


def velo_scale(path, shape):
    """The float64 scale of a velo_reference theta leaf (module docstring)."""
    if path.startswith("ff_mod_stack" + SEP):
        return np.float64(VELO_FF_STACK_SCALE)
    if path.startswith("lstm_init_state" + SEP):
        return np.float64(0.1)
    if len(shape) >= 2:
        scale = 1.0 / np.sqrt(np.float64(shape[0]))
    else:
        scale = np.float64(0.1)
    if path.startswith(SEP.join(("rnn_params", "step_size", ""))):
        scale = scale * np.float64(VELO_STEP_SIZE_SCALE)
    return np.float64(scale)


def velo_formula_leaf(i, shape, scale):
    """Leaf i of velo_reference's theta, exactly as a test must compute it."""
    size = int(np.prod(shape, dtype=np.int64))
    values = np.sin(0.37 * np.arange(size, dtype=np.float64) + 1.3 * i) * scale
    return values.astype(np.float32).reshape(shape)


def theta_velo_formula(lopt, seed):
    """(template, theta, {path: shape}, {path: scale}) for velo_reference."""
    template, init = init_state_dict(lopt, seed)
    tuple_paths = leaf_paths(init)
    by_string = {SEP.join(p): p for p in tuple_paths}
    order = sorted(by_string)
    # Sorting the joined strings must agree with the tree (= jax) order.
    assert [by_string[s] for s in order] == tuple_paths
    theta, shapes, scales = {}, {}, {}
    for i, path in enumerate(order):
        shape = tuple(get_in(init, by_string[path]).shape)
        scale = velo_scale(path, shape)
        node = theta
        for key in by_string[path][:-1]:
            node = node.setdefault(key, {})
        node[by_string[path][-1]] = velo_formula_leaf(i, shape, scale)
        shapes[path] = np.asarray(shape, dtype=np.int32)
        scales[path] = np.asarray(scale, dtype=np.float64)
    return template, theta, shapes, scales


# ---------------------------------------------------------------------------
# Running the reference.


def run(lopt, template, theta, seed, kind):
    """Runs NUM_UPDATES reference updates; returns the arrays to save."""
    params = make_params(seed)
    arrays = flatten(params, "params_0")
    arrays["num_steps"] = np.asarray(NUM_STEPS, dtype=np.int32)

    opt = lopt.opt_fn(to_reference(template, theta))
    state = opt.init(jax.tree_util.tree_map(jnp.asarray, params), num_steps=NUM_STEPS)
    for t in range(1, NUM_UPDATES + 1):
        grads = make_grads(seed, t)
        loss = np.float32(LOSSES[t - 1])
        jgrads = jax.tree_util.tree_map(jnp.asarray, grads)
        if kind == "nn_adam":
            state = opt.update(state, jgrads, loss=jnp.asarray(loss))
        elif kind == "rnn_fc_lopt":
            state = opt.update(state, jgrads, loss=jnp.asarray(loss), is_valid=False)
        else:
            key = jax.random.PRNGKey(t)
            state = opt.update(state, jgrads, loss=jnp.asarray(loss), key=key)
            arrays[f"key_{t}"] = np.asarray(key, dtype=np.uint32)
        arrays.update(flatten(grads, f"grads_{t}"))
        arrays[f"loss_{t}"] = np.asarray(loss, dtype=np.float32)
        arrays.update(flatten(opt.get_params(state), f"params_{t}"))
    return arrays


def record(name):
    if name == "nn_adam":
        lopt, seed = nn_adam.NNAdam(), 2
        template, theta = theta_nn_adam(lopt, seed)
    elif name == "rnn_fc_lopt":
        lopt, seed = rnn_mlp_lopt.RNNMLPLOpt(), 3
        template, theta = theta_rnn_fc_lopt(lopt, seed)
    elif name == "velo_small":
        lopt, seed = velo_small(), 4
        template, theta = theta_velo_small(lopt, seed)
    else:
        lopt, seed = velo_released(), 5
        template, theta, shapes, scales = theta_velo_formula(lopt, seed)
    kind = "velo" if name.startswith("velo") else name
    arrays = run(lopt, template, theta, seed, kind)
    if name == "velo":
        for path in shapes:
            arrays[f"theta_shape{SEP}{path}"] = shapes[path]
            arrays[f"theta_scale{SEP}{path}"] = scales[path]
    else:
        arrays.update(flatten(theta, "theta"))
    return arrays, template, theta


# ---------------------------------------------------------------------------
# Checkpoint in the reference's format.


def write_checkpoint(path, template, theta):
    """Writes theta the way the reference stores meta-parameters; verifies."""
    ckpt = gradient_learner.ParameterCheckpoint(
        params=to_reference(template, theta),
        gen_id=CHECKPOINT_GEN_ID,
        step=np.asarray(CHECKPOINT_STEP, dtype=np.int32),
    )
    checkpoints.save_state(path, ckpt)
    # Read back exactly as opt_from_checkpoint does.
    empty = gradient_learner.ParameterCheckpoint(template, "", 0)
    loaded = checkpoints.load_state(path, empty)
    restored = flax.serialization.to_state_dict(loaded.params)
    for leaf in leaf_paths(theta):
        got = np.asarray(get_in(restored, leaf))
        want = get_in(theta, leaf)
        assert got.dtype == np.float32 and got.shape == want.shape, leaf
        assert np.array_equal(got, want), leaf
    assert loaded.gen_id == CHECKPOINT_GEN_ID
    assert int(loaded.step) == CHECKPOINT_STEP


def describe_msgpack(obj, depth=1, max_depth=4):
    """Prints the raw msgpack structure (ext types decoded by hand)."""
    pad = "  " * depth
    for key, value in obj.items():
        if isinstance(value, dict) and depth < max_depth:
            print(f"{pad}{key!r}: map({len(value)})")
            describe_msgpack(value, depth + 1, max_depth)
        else:
            print(f"{pad}{key!r}: {short(value)}")


def short(value):
    if isinstance(value, msgpack.ExtType):
        shape, dtype, data = msgpack.unpackb(value.data, raw=False)
        return (
            f"ExtType(code={value.code}, payload=[shape={shape}, "
            f"dtype={dtype!r}, {type(data).__name__}[{len(data)}]])"
        )
    if isinstance(value, dict):
        return f"map({len(value)}) keys {sorted(value)[:4]}..."
    return f"{type(value).__name__} {value!r}"


def summarize_checkpoint(path):
    """Decodes the checkpoint with plain msgpack and prints its structure."""
    with open(path, "rb") as f:
        raw = f.read()
    print(f"velo_small checkpoint: {os.path.basename(path)} ({len(raw)} bytes)")
    print(f"  first bytes: {raw[:16].hex(' ')}")
    decoded = msgpack.unpackb(raw, raw=False, strict_map_key=False)
    print(f"  top-level map keys (in file order): {list(decoded)}")
    describe_msgpack(decoded)
    step = msgpack.packb(decoded["step"])
    print(f"  'step' entry, raw bytes: {step.hex(' ')}")


# ---------------------------------------------------------------------------


def summarize(name, path):
    """Reloads a written file and prints what a reader should sanity-check."""
    with np.load(path) as data:
        theta_keys = [k for k in data.files if k.startswith("theta" + SEP)]
        shape_keys = [k for k in data.files if k.startswith("theta_shape" + SEP)]
        if theta_keys:
            n_leaves = len(theta_keys)
            n_meta = sum(data[k].size for k in theta_keys)
        else:
            n_leaves = len(shape_keys)
            n_meta = sum(int(np.prod(data[k])) for k in shape_keys)
        floats = [k for k in data.files if data[k].dtype.kind == "f"]
        finite = all(np.all(np.isfinite(data[k])) for k in floats)
        print(f"{name}: {os.path.basename(path)} ({os.path.getsize(path)} bytes)")
        print(
            f"  theta leaves: {n_leaves}, meta-parameters: {n_meta}"
            f"{'' if theta_keys else ' (not stored: formula)'}, all finite: {finite}"
        )
        for leaf in PARAM_SHAPES:
            before = data[f"params_0{SEP}{leaf}"]
            traj = [data[f"params_{t}{SEP}{leaf}"] for t in range(NUM_UPDATES + 1)]
            changes = [np.max(np.abs(b - a)) for a, b in zip(traj, traj[1:])]
            change = np.max(np.abs(traj[-1] - before))
            per_step = " ".join(f"{c:.1e}" for c in changes)
            print(
                f"  max |params_{NUM_UPDATES} - params_0| {leaf:9s}: {change:.3e}"
                f"  (per step: {per_step})"
            )


def main():
    for name in ("nn_adam", "rnn_fc_lopt", "velo_small", "velo"):
        arrays, template, theta = record(name)
        path = os.path.join(HERE, f"{name}_reference.npz")
        np.savez(path, **arrays)
        summarize(name, path)
        if name == "velo_small":
            ckpt_path = os.path.join(HERE, "velo_small_checkpoint")
            write_checkpoint(ckpt_path, template, theta)
            summarize_checkpoint(ckpt_path)


if __name__ == "__main__":
    main()
