"""Each hand-designed optimizer against an independent float64 numpy version of optax's algorithm.

The references work on one array at a time (every optimizer here is leaf-wise), take the initial
parameters, the list of gradients and the hyperparameters with optax's defaults, and return the
parameters after each step. Sources are optax/_src/{alias,transform,factorized}.py and
optax/transforms/{_accumulation,_adding,_clipping}.py.
"""

import functools
import inspect

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import lopt_architectures.hand_designed as hd

SHAPES = {"w": (4, 3), "b": (3,), "s": ()}


def _rms(x):
    return np.sqrt(np.mean(np.square(x)))


def _trust_ratio(p, u, trust_coefficient=1.0, eps=0.0, min_norm=0.0):
    # transform.scale_by_trust_ratio: norms floored at min_norm; ratio 1 if either norm is 0.
    p_norm, u_norm = max(np.linalg.norm(p), min_norm), max(np.linalg.norm(u), min_norm)
    return 1.0 if p_norm == 0 or u_norm == 0 else trust_coefficient * p_norm / (u_norm + eps)


def _adam_directions(gs, b1, b2, eps, eps_root=0.0):
    # transform.scale_by_adam: m̂ / (sqrt(v̂ + eps_root) + eps), count starting at 1.
    m = v = 0.0
    for t, g in enumerate(gs, 1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        yield (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t) + eps_root) + eps)


def _apply(p, directions, learning_rate):
    """p ← p − α·d for each direction d; returns every iterate."""
    out = []
    for d in directions:
        p = p - learning_rate * d
        out.append(p)
    return out


def ref_sgd(p, gs, learning_rate):  # alias.sgd without momentum
    return _apply(p, gs, learning_rate)


def ref_sgdm(p, gs, learning_rate, momentum=0.9, nesterov=False):  # alias.sgd -> _accumulation.trace
    def directions():
        m = 0.0
        for g in gs:
            m = g + momentum * m
            yield g + momentum * m if nesterov else m
    return _apply(p, directions(), learning_rate)


def ref_adam(p, gs, learning_rate, b1=0.9, b2=0.999, eps=1e-8):  # alias.adam
    return _apply(p, _adam_directions(gs, b1, b2, eps), learning_rate)


def ref_adamw(p, gs, learning_rate, b1=0.9, b2=0.999, eps=1e-8, weight_decay=1e-4):
    # alias.adamw: scale_by_adam -> add_decayed_weights (params before the step) -> -lr
    out = []
    for d in _adam_directions(gs, b1, b2, eps):
        p = p - learning_rate * (d + weight_decay * p)
        out.append(p)
    return out


def ref_lamb(p, gs, learning_rate, b1=0.9, b2=0.999, eps=1e-6, weight_decay=0.0):
    # alias.lamb: scale_by_adam -> add_decayed_weights -> scale_by_trust_ratio() -> -lr
    out = []
    for d in _adam_directions(gs, b1, b2, eps):
        u = d + weight_decay * p
        p = p - learning_rate * _trust_ratio(p, u) * u
        out.append(p)
    return out


def ref_lars(p, gs, learning_rate, weight_decay=0.0, trust_coefficient=0.001, eps=0.0, momentum=0.9,
             nesterov=False):
    # alias.lars: add_decayed_weights -> scale_by_trust_ratio -> -lr -> trace (momentum after the lr)
    m, out = 0.0, []
    for g in gs:
        u = g + weight_decay * p
        u = -learning_rate * _trust_ratio(p, u, trust_coefficient, eps) * u
        m = u + momentum * m
        p = p + (u + momentum * m if nesterov else m)
        out.append(p)
    return out


def ref_fromage(p, gs, learning_rate, min_norm=1e-6):
    # alias.fromage: trust ratio with min_norm, scaled by -lr·mult, plus (mult − 1)·p
    mult, out = 1 / np.sqrt(1 + learning_rate**2), []
    for g in gs:
        p = mult * (p - learning_rate * _trust_ratio(p, g, min_norm=min_norm) * g)
        out.append(p)
    return out


def ref_adabelief(p, gs, learning_rate, b1=0.9, b2=0.999, eps=1e-16, eps_root=1e-16):
    # transform.scale_by_belief: s tracks (g − m_new)², eps_root added to s itself (and so bias-corrected)
    def directions():
        m = s = 0.0
        for t, g in enumerate(gs, 1):
            m = b1 * m + (1 - b1) * g
            s = b2 * s + (1 - b2) * (g - m) ** 2 + eps_root
            yield (m / (1 - b1**t)) / (np.sqrt(s / (1 - b2**t)) + eps)
    return _apply(p, directions(), learning_rate)


def ref_adagrad(p, gs, learning_rate, initial_accumulator_value=0.1, eps=1e-7):
    # transform.scale_by_rss: accumulator starts at 0.1, eps inside the root, 0 where the sum is 0
    def directions():
        s = initial_accumulator_value
        for g in gs:
            s = s + g**2
            yield np.where(s > 0, g / np.sqrt(s + eps), 0.0)
    return _apply(p, directions(), learning_rate)


def ref_radam(p, gs, learning_rate, b1=0.9, b2=0.999, eps=1e-8, threshold=5.0):
    # transform.scale_by_radam: plain m̂ (no denominator) until ρ_t ≥ threshold
    rho_inf = 2 / (1 - b2) - 1

    def directions():
        m = v = 0.0
        for t, g in enumerate(gs, 1):
            m = b1 * m + (1 - b1) * g
            v = b2 * v + (1 - b2) * g**2
            m_hat, v_hat = m / (1 - b1**t), v / (1 - b2**t)
            rho = rho_inf - 2 * t * b2**t / (1 - b2**t)
            if rho < threshold:
                yield m_hat
            else:
                r = np.sqrt((rho - 4) * (rho - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho))
                yield r * m_hat / (np.sqrt(v_hat) + eps)
    return _apply(p, directions(), learning_rate)


def ref_rmsprop(p, gs, learning_rate, decay=0.9, eps=1e-8, initial_scale=0.0, eps_in_sqrt=True, centered=False,
                momentum=None, nesterov=False, bias_correction=False):
    # alias.rmsprop: scale_by_rms / scale_by_stddev -> -lr -> optional trace
    def directions():
        mu, nu, trace = 0.0, initial_scale, 0.0
        for t, g in enumerate(gs, 1):
            mu = decay * mu + (1 - decay) * g
            nu = decay * nu + (1 - decay) * g**2
            corr = 1 - decay**t if bias_correction else 1.0
            var = nu / corr - (mu / corr) ** 2 if centered else nu / corr
            u = g / np.sqrt(var + eps) if eps_in_sqrt else g / (np.sqrt(var) + eps)
            if momentum is None:
                yield u
            else:
                trace = u + momentum * trace
                yield u + momentum * trace if nesterov else trace
    return _apply(p, directions(), learning_rate)


def ref_sm3(p, gs, learning_rate, momentum=0.9):
    # transform.scale_by_sm3(b1=momentum, b2=1, eps=1e-8): per-axis maxima of the accumulator,
    # the accumulator is g² + min over axes; the output is an EMA (1 − b1 factor) of g/√acc.
    # optax has no statistics for a scalar; hand_designed.sm3 runs it as a one-element vector.
    if p.ndim == 0:
        return [x.reshape(()) for x in ref_sm3(p.reshape(1), [g.reshape(1) for g in gs], learning_rate, momentum)]
    def directions():
        maxima, m = [np.zeros(n) for n in p.shape], 0.0
        for g in gs:
            prev = functools.reduce(np.minimum, [
                a.reshape([n if j == i else 1 for j, n in enumerate(p.shape)]) for i, a in enumerate(maxima)])
            acc = g**2 + prev
            maxima = [acc.max(axis=tuple(j for j in range(p.ndim) if j != i)) for i in range(p.ndim)]
            m = momentum * m + (1 - momentum) * np.where(acc > 0, g / np.sqrt(acc + 1e-8), 0.0)
            yield m
    return _apply(p, directions(), learning_rate)


def ref_yogi(p, gs, learning_rate, b1=0.9, b2=0.999, eps=1e-3):
    # transform.scale_by_yogi: both moments start at 1e-6; v ← v − (1−b2)·sign(v − g²)·g²
    def directions():
        m = v = 1e-6
        for t, g in enumerate(gs, 1):
            m = b1 * m + (1 - b1) * g
            v = v - (1 - b2) * np.sign(v - g**2) * g**2
            yield (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
    return _apply(p, directions(), learning_rate)


def ref_adafactor(p, gs, learning_rate, min_dim_size_to_factor=128, decay_rate=0.8, clipping_threshold=1.0,
                  eps=1e-30):
    # alias.adafactor: factorized.scale_by_factored_rms -> _clipping.clip_by_block_rms -> ×lr
    #   -> transform.scale_by_param_block_rms (rms of params before the step, floor 1e-3) -> ×(−1)
    dims = np.argsort(p.shape, kind="stable")
    factored = p.ndim >= 2 and p.shape[dims[-2]] >= min_dim_size_to_factor
    d1, d0 = (int(dims[-2]), int(dims[-1])) if factored else (None, None)
    r = c = v = 0.0
    out = []
    for k, g in enumerate(gs):
        beta = 1 - (k + 1) ** -decay_rate  # step count starts at 0, so beta = 0 on the first step
        g2 = g**2 + eps
        if factored:  # v̂ = r ⊗ c / mean(r), r averaged over d0, c over d1
            r = beta * r + (1 - beta) * g2.mean(axis=d0)
            c = beta * c + (1 - beta) * g2.mean(axis=d1)
            r_norm = r / r.mean(axis=d1 - (d1 > d0), keepdims=True)
            v_hat = np.expand_dims(r_norm, d0) * np.expand_dims(c, d1)
        else:
            v = v_hat = beta * v + (1 - beta) * g2
        u = g / np.sqrt(v_hat)
        u = u / max(1.0, _rms(u) / clipping_threshold)
        p = p - learning_rate * max(_rms(p), 1e-3) * u
        out.append(p)
    return out


def _case(name, ref, steps=3, shapes=SHAPES, label=None, **hyperparameters):
    return pytest.param(name, ref, hyperparameters, shapes, steps, id=label or name)


CASES = [
    _case("sgd", ref_sgd, learning_rate=0.1),
    _case("sgdm", ref_sgdm, learning_rate=0.1),
    _case("sgdm", ref_sgdm, label="sgdm-nesterov", learning_rate=0.1, momentum=0.8, nesterov=True),
    _case("adam", ref_adam, learning_rate=0.05),
    _case("adam", ref_adam, label="adam-custom", learning_rate=0.05, b1=0.5, b2=0.9, eps=1e-3),
    _case("adamw", ref_adamw, learning_rate=0.05, weight_decay=0.3),
    _case("adafactor", ref_adafactor, learning_rate=0.1),
    _case("adafactor", ref_adafactor, label="adafactor-factored", shapes={**SHAPES, "v": (2, 5)},
          learning_rate=0.1, min_dim_size_to_factor=2),
    _case("adabelief", ref_adabelief, learning_rate=0.05),
    _case("adagrad", ref_adagrad, learning_rate=0.1),
    _case("fromage", ref_fromage, learning_rate=0.1),
    _case("lamb", ref_lamb, learning_rate=0.05, weight_decay=0.3),
    _case("lars", ref_lars, learning_rate=5.0, weight_decay=0.3),
    _case("lars", ref_lars, label="lars-nesterov", learning_rate=1.0, weight_decay=0.3, trust_coefficient=0.02,
          nesterov=True),
    _case("radam", ref_radam, learning_rate=0.05),
    # b2 = 0.9: ρ_t passes the threshold at t = 6, so steps 6–8 are rectified.
    _case("radam", ref_radam, label="radam-rectified", steps=8, learning_rate=0.05, b2=0.9),
    _case("rmsprop", ref_rmsprop, learning_rate=0.01),
    _case("rmsprop", ref_rmsprop, label="rmsprop-centered-momentum", learning_rate=0.01, centered=True,
          momentum=0.9),
    _case("rmsprop", ref_rmsprop, label="rmsprop-debiased-nesterov", learning_rate=0.01, initial_scale=0.5,
          eps_in_sqrt=False, bias_correction=True, momentum=0.5, nesterov=True),
    _case("sm3", ref_sm3, learning_rate=0.1),
    _case("yogi", ref_yogi, learning_rate=0.05),
]


def _problem(shapes, steps, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    tree = lambda: {k: rng.standard_normal(s).astype(dtype) for k, s in shapes.items()}  # noqa: E731
    return tree(), [tree() for _ in range(steps)]


def _run(opt, params, grads):
    state = opt.init(jax.tree.map(jnp.asarray, params), num_steps=len(grads))
    out = []
    for g in grads:
        state = opt.update(state, jax.tree.map(jnp.asarray, g))
        out.append(opt.get_params(state))
    return out


def _reference(ref, params, grads, **hyperparameters):
    f64 = lambda x: np.asarray(x, np.float64)  # noqa: E731
    per_leaf = {k: ref(f64(p), [f64(g[k]) for g in grads], **hyperparameters) for k, p in params.items()}
    return [{k: per_leaf[k][t] for k in params} for t in range(len(grads))]


def _assert_matches(got, want, p0, msg):
    # Compare the displacement from the initial parameters, so small steps are checked to rtol too.
    # Worst case is ~0.45 of this tolerance: float32 rounds b2 = 0.999, so 1 − b2^t is off by ~1e-5.
    np.testing.assert_allclose(np.float64(got) - p0, want - p0, rtol=1e-5, atol=1e-6, err_msg=msg)


def test_every_optimizer_has_a_case():
    public = {n for n, f in vars(hd).items() if inspect.isfunction(f) and not n.startswith("_")} - {"from_optax"}
    assert public == {case.values[0] for case in CASES}


@pytest.mark.parametrize("name, ref, hyperparameters, shapes, steps", CASES)
def test_matches_numpy_reference(name, ref, hyperparameters, shapes, steps):
    params, grads = _problem(shapes, steps)
    got = _run(getattr(hd, name)(**hyperparameters), params, grads)
    want = _reference(ref, params, grads, **hyperparameters)
    for t, (got_t, want_t) in enumerate(zip(got, want), 1):
        for k in params:
            assert got_t[k].dtype == jnp.float32
            _assert_matches(got_t[k], want_t[k], params[k], f"step {t}, {k!r}")


@pytest.mark.parametrize("name, ref", [("sgd", ref_sgd), ("adam", ref_adam), ("fromage", ref_fromage),
                                       ("sm3", ref_sm3)])
def test_traced_learning_rate(name, ref):
    shapes = {"w": (4, 3), "b": (3,)}
    params, grads = _problem(shapes, 3)
    lrs = np.array([0.01, 0.1, 0.3], np.float32)
    got = jax.jit(jax.vmap(lambda lr: _run(getattr(hd, name)(lr), params, grads)[-1]))(lrs)
    for i, lr in enumerate(lrs):
        want = _reference(ref, params, grads, learning_rate=float(lr))[-1]
        for k in shapes:
            _assert_matches(got[k][i], want[k], params[k], f"lr={lr}, {k!r}")


@pytest.mark.parametrize("name, ref, hyperparameters, shapes, steps", CASES)
def test_bfloat16_params_stay_bfloat16(name, ref, hyperparameters, shapes, steps):
    params, grads = _problem(shapes, steps, dtype=jnp.bfloat16)
    got = _run(getattr(hd, name)(**hyperparameters), params, grads)
    for got_t in got:
        assert all(x.dtype == jnp.bfloat16 for x in got_t.values())
    if name in ("sgd", "adam"):  # low-precision arithmetic, so only a loose check of the values
        want = _reference(ref, params, grads, **hyperparameters)[-1]
        for k in params:
            np.testing.assert_allclose(np.float64(got[-1][k]), want[k], rtol=2e-2, atol=2e-2)
