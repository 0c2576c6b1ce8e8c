"""Records parity vectors for Celo, Celo-Adam and Celo2 (github.com/amoudgl/celo).

Same key layout and parameter tree as ``record_hierarchical_vectors.py`` (see
``recording.py``). Written next to this file:

* ``celo_reference.npz`` -- ``factory.get_optimizer("celo")``, i.e.
  ``celo.Celo(lstm_hidden_size=64, initial_momentum_decays=(0.9, 0.99, 0.999),
  initial_rms_decays=(0.999,), initial_adafactor_decays=(0.9, 0.99, 0.999),
  param_inits=1, train_phase=2)``, theta = the RELEASED weights, seed 7.
* ``celo_phase1_reference.npz`` -- ``get_optimizer("celo_phase1")`` (the same
  but ``train_phase=1``: the LSTM's lr_mult is NOT applied to the step),
  released celo weights, seed 7 (same params and grads as celo_reference).
* ``celo_adam_reference.npz`` -- ``get_optimizer("celo_adam")``, i.e.
  ``celo_adam.Celo(lstm_hidden_size=64, initial_epsilon=1e-8,
  initial_momentum_decays=(0.9,), initial_rms_decays=(0.999,))``, theta = the
  RELEASED celo_adam weights, seed 8.
* ``celo2_reference.npz`` -- ``get_optimizer("celo2")`` with the flags
  ``regex_1d=r"^(a_scalar|b_vector)$"`` (so ``a_scalar`` and ``b_vector`` take
  its Adam path, the rank 2..4 leaves the learned MLP + Newton-Schulz path),
  ``step_mult=0.001``, ``weight_decay=0.0`` (flag defaults), seed 6.
* ``celo2_all_mlp_reference.npz`` -- the same but ``regex_1d=""`` (every leaf
  through the MLP) and ``weight_decay=0.1``; same theta, params and grads.
* ``celo2_base_reference.npz`` -- ``get_optimizer("celo2base")``
  (``celo2.Celo2Base``, ``orthogonalize=False``, ``step_mult=0.001``,
  ``weight_decay=0.0``); same theta, params and grads as celo2_reference.

The released weights inside ``celo_reference.npz``, ``celo_phase1_reference.npz``
and ``celo_adam_reference.npz`` are the Celo authors' work, distributed under the
MIT licence of github.com/amoudgl/celo; its text is ``CELO_LICENSE`` beside this
file and goes with every copy of them.

The configs come from ``celo.factory.get_optimizer`` itself (absl flags parsed
with their defaults; ``FLAGS.regex_1d`` / ``FLAGS.weight_decay`` set as above).

Keys (float32 unless said):

* ``theta::<seg>::<seg>...`` -- every theta leaf, ``::`` joining the key path
  of ``flax.serialization.to_state_dict(theta)`` (haiku ``LSTMState`` by field
  name: ``theta::lstm_init_state::hidden``); paths and shapes at the end;
* ``params_0::<leaf>``; ``grads_<t>::<leaf>``, ``loss_<t>`` (0-d),
  ``params_<t>::<leaf>`` for t = 1..5; losses 2.3, 1.9, 2.1, 1.5, 1.7; leaves
  ``a_scalar`` (), ``b_vector`` (5,), ``c_matrix`` (4, 3), ``d_rank3``
  (2, 3, 4), ``e_conv`` (3, 3, 2, 4);
* Celo files: ``num_steps`` (int32 0-d, 100, passed to ``opt.init``; Celo2
  ignores it, so its files have none); ``theta_file_sha256`` (0-d unicode);
  and per step t, rows in leaf order (a_scalar, ..., e_conv):
  ``lstm_input_<t>`` (5, 18) the LSTM input rows of update t (9 fraction-left
  tanh features of ``iteration / num_steps`` with iteration = t - 1, then the
  9 loss features of the loss buffer AFTER adding ``loss_<t>``);
  ``lr_mult_<t>`` (5,) ``0.1 * exp(step_size(lstm_out))`` of update t;
  ``lstm_hidden_<t>`` / ``lstm_cell_<t>`` (5, 64) the LSTM state after update
  t. The 5 rows are identical (Celo's LSTM inputs are global features only),
  and ``lr_mult_<t> == 0.1 * exp(lstm_hidden_<t> @ step_size::w +
  step_size::b)`` (checked). (Controls: softmax over param_inits = 1, always
  1; not kept.)
  The first two are captured with ``jax.debug.callback`` around ``rnn.apply``
  (instrumentation only: params are bit-identical without it), the last two
  read from the optimizer state;
* Celo2 files: ``regex_1d`` (0-d unicode), ``path_string::<leaf>`` (0-d
  unicode, the path string celo2 matches the regex against, e.g.
  ``"a_scalar"``) and ``routed_to_adam::<leaf>`` (0-d bool).

Update calls: ``opt.update(state, grads, loss=loss)`` (loss a float32 0-d
array), after ``state = opt.init(params, num_steps=100)``.

Theta. Released weights (celo, celo_adam): ``theta.state`` of the submission,
loaded exactly like ``celo.utils.load_state(path, lopt.init(PRNGKey(0)))``
(``flax.serialization.from_bytes`` onto the template, then re-flattened into
the template's treedef). The files are flax msgpack of the bare theta dict
(no checkpoint header). SHA-256:

* ``algoperf/submissions/celo/theta.state`` (149,216 bytes):
  35683c6123069c101d62ec1f8b2e6d70d50a43e67ebe09953b27620a7dcb836b
* ``algoperf/submissions/celo_adam/theta.state`` (147,803 bytes):
  99c65fa0218a739c32eac4e8a99523b6fed92e2926d0c5d64e83835637b75d38

Celo2 theta: ``lopt.init(PRNGKey(6))`` (the celo2 lopt; celo2base's own init
has the same tree) plus N(0, 0.1) noise on every bias leaf (``b0``, ``b1``,
``b2``; zero at init), drawn in sorted key-path order from
``numpy.random.default_rng(6 + 100)``. No scaling was needed: every per-step
change is >= ~1e-3 for celo2 (celo: >= 6e-4; celo_adam: 1e-5..5e-4, the
smallest on a_scalar at step 5), see the printed summary.

Params: ``default_rng(seed + 200)``; step-t grads ``default_rng(seed + 300 +
t)`` times ``GRAD_SCALES`` (``recording.py``).

Conditioning: rerunning in float64 moves the params by <= 5e-7 for every file
except celo_reference (7e-6): its loss features at update 3 are a near
cancellation (``(cor_mean - running_min) / (approx_max - running_min)`` with a
tiny denominator) and differ by 1.4e-3 between float32 and float64, which
moves lr_mult_3 by 1e-4 (relative). Compare celo_reference with atol ~2e-5
unless the loss features are computed in the same float32 op order.

Meta-parameter counts and theta leaves (``theta::`` + path: shape):

* celo: 37,089 (33 leaves). ff_mod_stack::~::b0 (1, 4), b1 (1, 4), b2 (1, 3),
  w0__{0,1,2,4,6,8} (1, 1, 4), w0__{3,5,7,9,10,11,12,13} (1, 3, 4),
  w1 (1, 4, 4), w2 (1, 4, 3); lstm_init_state::cell, ::hidden (1, 64);
  rnn_params::linear, ::linear_1, ::linear_2 each ::b (64,), ::w (18, 64);
  rnn_params::rnn/linear::b (256,), ::w (128, 256);
  rnn_params::rnn_to_controls, ::step_size each ::b (1,), ::w (64, 1).
* celo_adam: 36,865 (12 leaves). The same without ff_mod_stack and
  rnn_to_controls.
* celo2 (and celo2base): 347 (19 leaves). ff_mod_stack::~::b0 (8,), b1 (8,),
  b2 (3,), w0__{0,1,2,4,6,8} (1, 8), w0__{3,5,7,9,10,11,12,13} (3, 8),
  w1 (8, 8), w2 (8, 3).

Throw-away environment (nothing of Celo or the reference is committed):

    REF=/tmp/refwork
    mkdir -p $REF/src
    git --git-dir=/work/.mirror/google+learned_optimization/repo archive \\
        32186aa46a96f26ba0625755f93c55659adcd523 \\
        -- . ':(exclude)learned_optimization/baselines/data' | tar -x -C $REF/src
    # (git prints "invalid object ... baselines/data/..."; harmless.)
    # Celo at commit 66d9761 in /tmp/celo (repo root), e.g.
    mkdir -p /tmp/celo && git --git-dir=/work/.mirror/amoudgl+celo/repo \\
        archive 66d9761 | tar -x -C /tmp/celo
    python3 -m venv $REF/venv
    $REF/venv/bin/pip install jax==0.10.2 jaxlib==0.10.2 dm-haiku==0.0.17 \\
        optax==0.2.8 chex==0.1.92 numpy==2.4.6 flax gin-config
    # Stub packages tensorflow, tensorflow/compat, tensorflow/compat/v2,
    # tensorflow/io and tensorflow_datasets under $REF/stubs, each
    # __init__.py containing:
    #   from unittest import mock
    #   def __getattr__(name):
    #       return mock.MagicMock(name=name)
    # (tensorflow_datasets only because celo/factory.py imports the task
    # modules; no task is built.)
    PYTHONPATH=/tmp/celo:$REF/src:$REF/stubs $REF/venv/bin/python \\
        packages/pretrained/lopt_pretrained/testdata/record_celo_vectors.py

Versions used: Python 3.11.7, jax/jaxlib 0.10.2, dm-haiku 0.0.17, optax 0.2.8
(has ``optax.tree.bias_correction``, which celo2 only calls with
bias_correction=True), chex 0.1.92, numpy 2.4.6, flax 0.12.8, msgpack 1.2.4,
absl-py 2.5.1, gin-config 0.5.0; learned_optimization 32186aa, celo 66d9761.
Deterministic on CPU; rerunning rewrites all six files.
"""

import hashlib
import os

import flax.serialization
import jax
import jax.numpy as jnp
import numpy as np
from absl import flags
from celo import factory
from celo import utils as celo_utils
from celo.optimizers import celo2, celo2_optax
from recording import PARAM_SHAPES, SEP, flatten, get_in, leaf_paths, make_grads, make_params, set_in

NUM_STEPS = 100
LOSSES = (2.3, 1.9, 2.1, 1.5, 1.7)
NUM_UPDATES = len(LOSSES)
THETA_NOISE_STD = 0.1
CELO_SEED, CELO_ADAM_SEED, CELO2_SEED = 7, 8, 6
CELO2_REGEX_1D = r"^(a_scalar|b_vector)$"
CELO_ROOT = os.environ.get("CELO_ROOT", "/tmp/celo")
SUBMISSIONS = os.path.join(CELO_ROOT, "algoperf", "submissions")
HERE = os.path.dirname(os.path.abspath(__file__))


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def state_dict(theta):
    """Theta -> nested dict of float32 numpy arrays (flax state-dict paths)."""
    sd = flax.serialization.to_state_dict(theta)
    return jax.tree_util.tree_map(lambda x: np.array(x, dtype=np.float32), sd)


def describe_theta(name, theta_sd):
    paths = leaf_paths(theta_sd)
    total = sum(get_in(theta_sd, p).size for p in paths)
    print(f"{name}: {len(paths)} theta leaves, {total} meta-parameters")
    for p in paths:
        print(f"  theta{SEP}{SEP.join(p)}: {get_in(theta_sd, p).shape}")


class RnnTap:
    """Wraps the lopt's haiku ``rnn`` transform; reports LSTM inputs and lr_mult."""

    def __init__(self, inner, sink):
        self.inner, self.sink = inner, sink

    def init(self, *args, **kwargs):
        return self.inner.init(*args, **kwargs)

    def apply(self, params, x, state):
        controls, lr_mult, new_state = self.inner.apply(params, x, state)
        jax.debug.callback(lambda a, b: self.sink.append((np.asarray(a), np.asarray(b))), x, lr_mult)
        return controls, lr_mult, new_state


def run(lopt, theta, seed, celo_like):
    """Runs NUM_UPDATES updates with the given reference theta pytree."""
    params = make_params(seed)
    arrays = flatten(params, "params_0")
    sink = []
    if celo_like:
        arrays["num_steps"] = np.asarray(NUM_STEPS, dtype=np.int32)
        lopt.rnn = RnnTap(lopt.rnn, sink)
    opt = lopt.opt_fn(theta)
    state = opt.init(jax.tree_util.tree_map(jnp.asarray, params), num_steps=NUM_STEPS)
    for t in range(1, NUM_UPDATES + 1):
        grads = make_grads(seed, t)
        loss = np.float32(LOSSES[t - 1])
        state = opt.update(state, jax.tree_util.tree_map(jnp.asarray, grads), loss=jnp.asarray(loss))
        jax.block_until_ready(state)
        arrays.update(flatten(grads, f"grads_{t}"))
        arrays[f"loss_{t}"] = np.asarray(loss, dtype=np.float32)
        arrays.update(flatten(opt.get_params(state), f"params_{t}"))
        if celo_like:
            jax.effects_barrier()
            assert len(sink) == t, len(sink)
            arrays[f"lstm_input_{t}"] = sink[-1][0].astype(np.float32)
            arrays[f"lr_mult_{t}"] = sink[-1][1].astype(np.float32)
            arrays[f"lstm_hidden_{t}"] = np.asarray(state.lstm_hidden_state.hidden, dtype=np.float32)
            arrays[f"lstm_cell_{t}"] = np.asarray(state.lstm_hidden_state.cell, dtype=np.float32)
            step_size = theta["rnn_params"]["step_size"]
            lr = 0.1 * np.exp(arrays[f"lstm_hidden_{t}"] @ np.asarray(step_size["w"]) + np.asarray(step_size["b"]))
            np.testing.assert_allclose(arrays[f"lr_mult_{t}"], lr[:, 0], rtol=1e-6)
    return arrays


def released(name, submission, seed):
    lopt = factory.get_optimizer(name)
    path = os.path.join(SUBMISSIONS, submission, "theta.state")
    template = lopt.init(jax.random.PRNGKey(0))
    theta = celo_utils.load_state(path, template)
    theta_sd = state_dict(theta)
    # The file must really replace every template leaf.
    for p in leaf_paths(state_dict(template)):
        assert get_in(theta_sd, p).shape == get_in(state_dict(template), p).shape, p
    assert not all(np.array_equal(get_in(theta_sd, p), get_in(state_dict(template), p)) for p in leaf_paths(theta_sd))
    arrays = run(lopt, theta, seed, celo_like=True)
    arrays.update(flatten(theta_sd, "theta"))
    digest = sha256(path)
    arrays["theta_file_sha256"] = np.asarray(digest)
    print(f"{submission}/theta.state: {os.path.getsize(path)} bytes, sha256 {digest}")
    return arrays, theta_sd


def celo2_theta(lopt, seed):
    theta_sd = state_dict(lopt.init(jax.random.PRNGKey(seed)))
    rng = np.random.default_rng(seed + 100)
    for p in leaf_paths(theta_sd):
        if p[-1].rstrip("0123456789") == "b":
            leaf = get_in(theta_sd, p)
            assert not np.any(leaf), p
            set_in(theta_sd, p, (leaf + rng.normal(0.0, THETA_NOISE_STD, size=leaf.shape)).astype(np.float32))
    return theta_sd


def celo2_run(name, regex_1d, weight_decay, theta_sd):
    flags.FLAGS.regex_1d = regex_1d
    flags.FLAGS.weight_decay = weight_decay
    lopt = factory.get_optimizer(name)
    assert lopt.weight_decay == weight_decay and lopt.step_mult == 0.001
    # Same structure (and init values) as the celo2 lopt's init.
    same = state_dict(lopt.init(jax.random.PRNGKey(CELO2_SEED)))
    assert leaf_paths(same) == leaf_paths(theta_sd)
    theta = jax.tree_util.tree_map(jnp.asarray, theta_sd)
    arrays = run(lopt, theta, CELO2_SEED, celo_like=False)
    arrays.update(flatten(theta_sd, "theta"))
    if name == "celo2":
        assert lopt.regex_1d == regex_1d
        params = make_params(CELO2_SEED)
        arrays["regex_1d"] = np.asarray(regex_1d)
        pairs = jax.tree_util.tree_leaves_with_path(params)
        mask = celo2._mask_1d_from_regex(params, regex_1d)
        for (path, _), leaf, is_1d in zip(pairs, PARAM_SHAPES, mask):
            arrays[f"path_string{SEP}{leaf}"] = np.asarray(celo2._path_flat_str(path))
            arrays[f"routed_to_adam{SEP}{leaf}"] = np.asarray(bool(is_1d))
            print(f"  {leaf}: path string {celo2._path_flat_str(path)!r}, Adam path: {is_1d}")
    return arrays


def summarize(name, path):
    with np.load(path) as data:
        theta_keys = [k for k in data.files if k.startswith("theta" + SEP)]
        n_meta = sum(data[k].size for k in theta_keys)
        finite = all(np.all(np.isfinite(data[k])) for k in data.files if data[k].dtype.kind == "f")
        print(f"{name}: {os.path.basename(path)} ({os.path.getsize(path)} bytes), {len(data.files)} keys")
        print(f"  theta leaves: {len(theta_keys)}, meta-parameters: {n_meta}, all finite: {finite}")
        for leaf in PARAM_SHAPES:
            traj = [data[f"params_{t}{SEP}{leaf}"] for t in range(NUM_UPDATES + 1)]
            steps = " ".join(f"{np.max(np.abs(b - a)):.2e}" for a, b in zip(traj, traj[1:]))
            print(f"  max|params_t - params_t-1| {leaf:9s}: {steps}")
        if "lr_mult_1" in data.files:
            for t in range(1, NUM_UPDATES + 1):
                lr = data[f"lr_mult_{t}"]
                print(f"  lr_mult_{t}: {np.array2string(lr, precision=6)}")


def save(name, arrays):
    path = os.path.join(HERE, f"{name}_reference.npz")
    np.savez(path, **arrays)
    summarize(name, path)


def main():
    flags.FLAGS(["record_celo_vectors"])  # absl flag defaults, used by the factory
    for shape in PARAM_SHAPES.values():
        print(f"factored_dims{shape} = {celo2_optax.factored_dims(shape)}")

    arrays, theta_sd = released("celo", "celo", CELO_SEED)
    describe_theta("celo", theta_sd)
    save("celo", arrays)
    arrays, _ = released("celo_phase1", "celo", CELO_SEED)
    save("celo_phase1", arrays)
    arrays, theta_sd = released("celo_adam", "celo_adam", CELO_ADAM_SEED)
    describe_theta("celo_adam", theta_sd)
    save("celo_adam", arrays)

    flags.FLAGS.regex_1d = CELO2_REGEX_1D
    theta_sd = celo2_theta(factory.get_optimizer("celo2"), CELO2_SEED)
    describe_theta("celo2", theta_sd)
    save("celo2", celo2_run("celo2", CELO2_REGEX_1D, 0.0, theta_sd))
    save("celo2_all_mlp", celo2_run("celo2", "", 0.1, theta_sd))
    save("celo2_base", celo2_run("celo2base", CELO2_REGEX_1D, 0.0, theta_sd))


if __name__ == "__main__":
    main()
