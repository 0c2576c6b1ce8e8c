"""Celo2: a normalised learned update, orthogonalised for matrices, with Adam for 1-D parameters.

Moudgil et al., Celo2 (ICLR 2026), released code `amoudgl/celo`
(`celo/optimizers/celo2.py`, `celo2_optax.py`). θ = {"update_rule": MLP
30 → 8 → 8 → 3}; there is no learned scheduler: the step size is an external
`learning_rate` (a number or an optax schedule of the step), 1e-3 in the
papers' meta-training.

Parameters are split by name, as the released code does: a leaf whose path
("/"-joined keys, e.g. "mlp/~/linear_0/b") matches `adam_pattern` gets a
hand-designed rule, Adam without bias correction and with ε inside the root,

    m ← β1·m + (1−β1)·g,  v ← β2·v + (1−β2)·g²,  φ ← φ − 20·η·(m/√(v + ε) + λφ)

(β2 = 0.95; the factor 20 is `mult_1d`); every other leaf gets the learned
rule:

1. gradients clipped to ±1000 feed the accumulators (3 momenta, one second
   moment at 0.95, 3 AdaFactor decays);
2. `lopt_features.celo2_channel_groups` (30 channels for rank ≥ 2, 15 for
   vectors and scalars), each normalised to unit second moment over the
   tensor's last two axes, go through the MLP; its first output is the
   direction d (the magnitude output is unused: exp(0·s) = 1);
3. for rank ≥ 2, d is orthogonalised per matrix (last two axes) by 5
   Newton–Schulz iterations (`newton_schulz`), then normalised to unit RMS
   over the last two axes: φ ← φ − η·(u + λφ).

The default `adam_pattern`, r"/b$" (haiku biases), is the one the released
meta-training used (`celo/factory.py`). The update is a sum of
matrix products of the width of the tensor, so its cost grows with width
(unlike Celo's, which is elementwise).
"""

import dataclasses
import re
from typing import Any, Callable, ClassVar, NamedTuple

import jax
import jax.numpy as jnp
import lopt_features as lf

from lopt_architectures.base import LearnedOptimizer, Optimizer, check_sizes, get_params, skip_non_finite
from lopt_architectures.mlp import apply_mlp_to_channels, init_grouped_mlp

GROUPS = lf.CELO2_CHANNEL_GROUPS


class Celo2State(NamedTuple):
    params: Any
    model_state: Any
    step: jax.Array
    momentum: lf.MomentumState
    second_moment: lf.SecondMomentState
    factored: lf.FactoredState
    adam_momentum: lf.MomentumState
    adam_second_moment: lf.SecondMomentState
    skipped_steps: jax.Array | None = None  # steps skipped for non-finite input; set by skip_non_finite


def newton_schulz(x: jax.Array, coefficients=(3.4445, -4.7750, 2.0315), iterations: int = 5,
                  epsilon: float = 1e-8) -> jax.Array:
    """An approximately orthogonal matrix with x's singular vectors (per matrix of the last two axes).

    x ← x/(‖x‖_F + ε), then `iterations` times x ← a·x + (b·A + c·A²)·x with
    A = x·xᵀ (on the wide orientation): the quintic iteration of Muon, which
    pushes every singular value towards ~1.
    """
    if x.ndim < 2:
        raise ValueError(f"newton_schulz: needs a matrix (ndim >= 2), got shape {x.shape}.")
    a, b, c = coefficients
    transposed = x.shape[-2] > x.shape[-1]
    if transposed:
        x = jnp.swapaxes(x, -2, -1)
    x = x / (jnp.linalg.norm(x, axis=(-2, -1), keepdims=True) + epsilon)
    for _ in range(iterations):
        gram = x @ jnp.swapaxes(x, -2, -1)
        x = a * x + (b * gram + c * gram @ gram) @ x
    return jnp.swapaxes(x, -2, -1) if transposed else x


def leaf_path(path) -> str:
    """A leaf's key path as the released code names it ("mlp/~/linear_0/b")."""
    return "/".join(str(getattr(k, "key", getattr(k, "name", getattr(k, "idx", k)))) for k in path)


@dataclasses.dataclass(frozen=True)
class Celo2(LearnedOptimizer):
    """Celo2; the defaults are the released configuration (`get_optimizer("celo2")`, 347 meta-parameters)."""

    learning_rate: float | Callable[[jax.Array], jax.Array] = 1e-3
    weight_decay: float = 0.0
    hidden_size: int = 8
    momentum_decays: tuple[float, ...] = (0.9, 0.99, 0.999)
    second_moment_decays: tuple[float, ...] = (0.95,)
    factored_decays: tuple[float, ...] = (0.9, 0.99, 0.999)
    orthogonalize: bool = True
    ns_coefficients: tuple[float, float, float] = (3.4445, -4.7750, 2.0315)
    ns_iterations: int = 5
    ns_epsilon: float = 1e-8
    adam_pattern: str | None = r"/b$"
    adam_b1: float = 0.9
    adam_b2: float = 0.95
    adam_epsilon: float = 1e-8
    mult_1d: float = 20.0

    name: ClassVar[str] = "celo2"
    #: The update rule's input groups (names and widths), in order.
    channel_groups: ClassVar[tuple[tuple[str, int], ...]] = GROUPS

    def __post_init__(self):
        counts = (len(self.momentum_decays), len(self.second_moment_decays), len(self.factored_decays))
        if counts != (3, 1, 3):
            raise ValueError(f"celo2: the feature layout needs 3 momentum, 1 second-moment and 3 AdaFactor "
                             f"decays, got {counts}.")
        check_sizes(self, {"hidden_size": 1, "ns_iterations": 0})
        if self.adam_pattern:
            try:
                re.compile(self.adam_pattern)
            except re.error as e:
                raise ValueError(f"celo2: adam_pattern {self.adam_pattern!r} is not a regular expression: {e}.")

    def init_meta_params(self, key: jax.Array) -> dict:
        return {"update_rule": init_grouped_mlp(key, GROUPS, self.hidden_size)}

    def uses_adam(self, params: Any) -> list[bool]:
        """Per leaf (in flattening order): True where the hand-designed Adam rule applies."""
        paths = [leaf_path(p) for p, _ in jax.tree_util.tree_flatten_with_path(params)[0]]
        if not self.adam_pattern:
            return [False] * len(paths)
        pattern = re.compile(self.adam_pattern)
        return [bool(pattern.search(p)) for p in paths]

    def _rate(self, step):
        if callable(self.learning_rate):
            return jnp.asarray(self.learning_rate(step), jnp.float32)
        return jnp.asarray(self.learning_rate, jnp.float32)

    def optimizer(self, theta: dict) -> Optimizer:
        config = self
        momentum = lf.momentum(config.momentum_decays)
        second_moment = lf.second_moment(config.second_moment_decays)
        factored = lf.factored_second_moment(config.factored_decays)
        adam_momentum = lf.momentum((config.adam_b1,))
        adam_second_moment = lf.second_moment((config.adam_b2,))
        mlp = theta["update_rule"]

        def split(tree, mask):
            """(learned-rule leaves, Adam leaves) as lists; absent leaves are dropped."""
            leaves = jax.tree_util.tree_leaves(tree)
            return [x for x, a in zip(leaves, mask) if not a], [x for x, a in zip(leaves, mask) if a]

        def init(params, *, num_steps=None, key=None, model_state=None):
            lf.check_float(params, what="celo2.init", tree_name="parameter")
            learned, adam = split(params, config.uses_adam(params))
            return Celo2State(
                params=params, model_state=model_state, step=jnp.asarray(0, jnp.int32),
                momentum=momentum.init(learned), second_moment=second_moment.init(learned),
                factored=factored.init(learned), adam_momentum=adam_momentum.init(adam),
                adam_second_moment=adam_second_moment.init(adam),
            )

        def update(state, grads, *, loss=None, key=None, model_state=None):
            lf.check_float(grads, what="celo2.update", tree_name="gradient")
            lf.check_matches(state.params, grads, what="celo2.update", tree_name="gradient",
                             expected_name="parameters")
            mask = config.uses_adam(state.params)
            params_l, params_a = split(state.params, mask)
            grads_l, grads_a = split(grads, mask)
            grads_l = [jnp.clip(g, -1000.0, 1000.0) for g in grads_l]
            new_momentum = momentum.update(state.momentum, grads_l)
            new_second_moment = second_moment.update(state.second_moment, grads_l)
            new_factored = factored.update(state.factored, grads_l)
            new_adam_m = adam_momentum.update(state.adam_momentum, grads_a)
            new_adam_v = adam_second_moment.update(state.adam_second_moment, grads_a)
            rate = config._rate(state.step)

            learned = [
                _apply(p, _learned_direction(config, mlp, p, *rest), rate, config.weight_decay)
                for p, *rest in zip(params_l, grads_l, new_momentum.m, new_second_moment.v, *new_factored)
            ]
            adam = [
                _apply(p, m[..., 0] * jax.lax.rsqrt(v[..., 0] + config.adam_epsilon), rate * config.mult_1d,
                       config.weight_decay)
                for p, m, v in zip(params_a, new_adam_m.m, new_adam_v.v)
            ]
            learned_iter, adam_iter = iter(learned), iter(adam)
            treedef = jax.tree_util.tree_structure(state.params)
            new_params = treedef.unflatten([next(adam_iter) if a else next(learned_iter) for a in mask])
            return Celo2State(
                params=new_params, model_state=model_state, step=state.step + 1, momentum=new_momentum,
                second_moment=new_second_moment, factored=new_factored, adam_momentum=new_adam_m,
                adam_second_moment=new_adam_v,
            )

        return skip_non_finite(Optimizer(init, update, get_params), config.name)


def _apply(p, direction, rate, weight_decay):
    dtype = direction.dtype
    p32 = p.astype(dtype)
    return (p32 - rate * direction - weight_decay * p32 * rate).astype(p.dtype)


def _learned_direction(config: Celo2, mlp: dict, p, g, m, v, v_row, v_col, v_diag):
    """The learned rule's update u of one tensor (before the learning rate)."""
    shape = jnp.shape(p)
    groups = lf.celo2_channel_groups(p, g, m, v, v_row, v_col, v_diag)
    if not shape:  # the released code treats a scalar as a vector of one
        groups = [x.reshape((1, x.shape[-1])) for x in groups]
    ndim = max(len(shape), 1)
    channels = [lf.normalize_last_two_axes(group[..., k], param_ndim=ndim)
                for group in groups for k in range(group.shape[-1])]
    w0 = jnp.concatenate([mlp["w0"][name] for name, _ in GROUPS[:len(groups)]], axis=0)
    direction = apply_mlp_to_channels({**mlp, "w0": w0}, channels)[0]
    if config.orthogonalize and direction.ndim >= 2:
        direction = newton_schulz(direction, config.ns_coefficients, config.ns_iterations, config.ns_epsilon)
    direction = lf.normalize_last_two_axes(direction, param_ndim=ndim)
    return direction.reshape(shape)


def celo2(**config) -> Celo2:
    """Celo2 with the released configuration, or overrides (see `Celo2`)."""
    return Celo2(**config)
