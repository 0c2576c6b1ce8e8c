"""NAdamW with the warm-up + cosine schedule: the tuned baseline of the tradeoffs paper.

Ten hyperparameters (App. F.1): the base learning rate α, β1, β2, ε, the ℓ2
regularisation strength ℓ2wd, the AdamW weight decay ℓ2AdamW, the Nesterov
switch b, and the schedule's c_warmup, c_constant and c_min (see
`schedules.py`). With α_t the scheduled rate at step t (0-based), each step is
(equations 13–21):

    g  = ∇f(φ) + 2·ℓ2wd·φ                      (13: the gradient of f + ℓ2wd‖φ‖²)
    m  = β1·m + (1 − β1)·g,   v = β2·v + (1 − β2)·g²
    m̂  = m/(1 − β1^(t+1)),    v̂ = v/(1 − β2^(t+1))
    u  = (1 − b)·m̂/(√v̂ + ε) + b·(β1·m̂ + (1 − β1)·g)/(√v̂ + ε)
    φ ← φ − α_t·u − α_t·ℓ2AdamW·φ

The update equations are the paper's as printed. The reference implementation
differs from them in three places, which we do not copy: it *subtracts*
ℓ2wd·φ from the gradient (anti-regularising), and it applies the bias
correction to α (so ε is effectively scaled by √(1 − β2^(t+1)) and the
Nesterov gradient term is bias-corrected too) and to the weight decay.

Every hyperparameter may be a traced array (b as 0.0/1.0 too), so a random
search (`sample_nadamw_hyperparameters`, App. F.2) can run vmapped.
"""

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import lopt_features as lf

from lopt_architectures.base import Optimizer, get_params, require_num_steps
from lopt_architectures.schedules import warmup_cosine_schedule


class NAdamWHyperparameters(NamedTuple):
    """The ten hyperparameters of App. F.1 (a pytree, so it stacks and vmaps)."""

    learning_rate: Any = 1e-3
    beta1: Any = 0.9
    beta2: Any = 0.999
    epsilon: Any = 1e-8
    l2_weight_decay: Any = 0.0
    adamw_weight_decay: Any = 0.0
    use_nesterov: Any = True
    warmup_fraction: Any = 0.0
    constant_fraction: Any = 1.0
    min_learning_rate_mult: Any = 0.0


class NAdamWState(NamedTuple):
    params: Any
    model_state: Any
    step: jax.Array
    num_steps: jax.Array
    m: Any
    v: Any


def nadamw(
    learning_rate: Any = 1e-3,
    beta1: Any = 0.9,
    beta2: Any = 0.999,
    epsilon: Any = 1e-8,
    l2_weight_decay: Any = 0.0,
    adamw_weight_decay: Any = 0.0,
    use_nesterov: Any = True,
    warmup_fraction: Any = 0.0,
    constant_fraction: Any = 1.0,
    min_learning_rate_mult: Any = 0.0,
) -> Optimizer:
    """NAdamW (App. F.1). The defaults give NAdam with a constant learning rate."""
    hp = NAdamWHyperparameters(
        learning_rate, beta1, beta2, epsilon, l2_weight_decay, adamw_weight_decay,
        use_nesterov, warmup_fraction, constant_fraction, min_learning_rate_mult,
    )
    hp = NAdamWHyperparameters(*(jnp.asarray(x, jnp.float32) for x in hp))

    def init(params, *, num_steps=None, key=None, model_state=None):
        lf.check_float(params, what="nadamw.init", tree_name="parameter")
        zeros = jax.tree_util.tree_map(jnp.zeros_like, params)
        return NAdamWState(params, model_state, jnp.asarray(0, jnp.int32),
                           require_num_steps(num_steps, "nadamw"), zeros, zeros)

    def update(state, grads, *, loss=None, key=None, model_state=None):
        lf.check_float(grads, what="nadamw.update", tree_name="gradient")
        lf.check_matches(state.params, grads, what="nadamw.update", tree_name="gradient",
                         expected_name="parameters")
        lr = warmup_cosine_schedule(
            state.step, state.num_steps, hp.learning_rate, warmup_fraction=hp.warmup_fraction,
            constant_fraction=hp.constant_fraction, min_learning_rate_mult=hp.min_learning_rate_mult,
        )
        t = state.step.astype(jnp.float32) + 1.0
        b1, b2 = hp.beta1, hp.beta2

        def one(p, g, m, v):
            dtype = jnp.promote_types(p.dtype, jnp.float32)
            p32, g = p.astype(dtype), g.astype(dtype)
            g = g + 2.0 * hp.l2_weight_decay * p32
            m = b1 * m.astype(dtype) + (1 - b1) * g
            v = b2 * v.astype(dtype) + (1 - b2) * g * g
            m_hat = m / (1 - b1**t)
            denominator = jnp.sqrt(v / (1 - b2**t)) + hp.epsilon
            heavy_ball = m_hat / denominator
            nesterov = (b1 * m_hat + (1 - b1) * g) / denominator
            direction = (1 - hp.use_nesterov) * heavy_ball + hp.use_nesterov * nesterov
            new_p = p32 - lr * direction - lr * hp.adamw_weight_decay * p32
            return new_p.astype(p.dtype), m.astype(p.dtype), v.astype(p.dtype)

        out = jax.tree_util.tree_map(one, state.params, grads, state.m, state.v)
        treedef = jax.tree_util.tree_structure(state.params)
        new_p, m, v = (treedef.unflatten(x) for x in zip(*treedef.flatten_up_to(out)))
        return NAdamWState(new_p, model_state, state.step + 1, state.num_steps, m, v)

    return Optimizer(init, update, get_params)


def sample_nadamw_hyperparameters(key: jax.Array) -> NAdamWHyperparameters:
    """One draw from the NAdamW search space of App. F.2 (float32 arrays).

    α ~ logU[1e-5, 1]; 1 − β1 ~ logU[1e-3, 1]; 1 − β2 ~ logU[1e-5, 1];
    ε ~ logU[1e-8, 1e4]; Nesterov with probability ½; ℓ2wd, ℓ2AdamW ~
    logU[1e-5, 1e-1], then with probability ⅓ each: keep both, zero ℓ2wd, or
    zero ℓ2AdamW; c_min ~ logU[1e-5, 1] with probability ½, else 0;
    c_warmup ~ logU[1e-5, 1e-1] with probability ½, else 0 (the paper does
    not say log or linear; log matches its other ranges); c_constant ~ U[0, 1].
    `jax.vmap` over keys gives a whole search.
    """
    keys = iter(jax.random.split(key, 13))

    def log_uniform(low, high):
        return jnp.exp(jax.random.uniform(next(keys), (), minval=jnp.log(low), maxval=jnp.log(high)))

    def coin():
        return jax.random.bernoulli(next(keys)).astype(jnp.float32)

    l2, adamw = log_uniform(1e-5, 1e-1), log_uniform(1e-5, 1e-1)
    which = jax.random.randint(next(keys), (), 0, 3)  # 0: both, 1: no ℓ2wd, 2: no ℓ2AdamW
    return NAdamWHyperparameters(
        learning_rate=log_uniform(1e-5, 1.0),
        beta1=1 - log_uniform(1e-3, 1.0),
        beta2=1 - log_uniform(1e-5, 1.0),
        epsilon=log_uniform(1e-8, 1e4),
        l2_weight_decay=jnp.where(which == 1, 0.0, l2),
        adamw_weight_decay=jnp.where(which == 2, 0.0, adamw),
        use_nesterov=coin(),
        warmup_fraction=coin() * log_uniform(1e-5, 1e-1),
        constant_fraction=jax.random.uniform(next(keys), ()),
        min_learning_rate_mult=coin() * log_uniform(1e-5, 1.0),
    )
