"""Small problems with known answers, for testing estimators (and for trying them out).

`QuadraticTask` has loss ½·Σ_j a_j (x_j − b_j)² from a fixed start, and
`LearnedLR` is the one-meta-parameter optimizer x ← x − exp(θ)·g, so the
meta-loss of an unroll is a closed form in θ:

    x_t − b = (1 − a·exp(θ))^t (x_0 − b),   L_t = ½ Σ_j a_j (1 − a_j e^θ)^{2t} (x_{0,j} − b_j)².

Its Gaussian-smoothed version E_ε[M(θ + ε)] and that version's gradient can
be computed by quadrature, which is the truth an ES estimator's average must
match.
"""

import dataclasses
from typing import Any, ClassVar, NamedTuple

import jax
import jax.numpy as jnp
import lopt_architectures as la
import lopt_tasks as lt
import numpy as np


@dataclasses.dataclass(frozen=True)
class QuadraticTask(lt.Task):
    """loss = ½·Σ_j curvature_j·(x_j − target_j)², starting from x = start (the key is unused)."""

    curvature: tuple[float, ...] = (1.0, 0.5, 0.25)
    target: tuple[float, ...] = (1.0, -1.0, 0.5)
    start: tuple[float, ...] = (0.0, 0.0, 0.0)
    scale: Any = 1.0  # multiplies the loss; a task-family value

    @property
    def name(self) -> str:
        return "quadratic"

    def init(self, key):
        return {"x": jnp.asarray(self.start, jnp.float32)}

    def loss(self, params, key, batch):
        a, b = jnp.asarray(self.curvature), jnp.asarray(self.target)
        return self.scale * 0.5 * jnp.sum(a * (params["x"] - b) ** 2)

    @property
    def datasets(self):
        # The loss needs no data; a one-example dataset keeps the batch machinery uniform.
        return {split: lt.ArrayDataset({"unused": np.zeros((1, 1), np.float32)}, batch_size=1, name=f"quadratic/{split}")
                for split in ("train", "test")}

    @property
    def normalizer(self):
        a, b, x0 = (np.asarray(v, np.float64) for v in (self.curvature, self.target, self.start))
        return self.scale * float(0.5 * np.sum(a * (x0 - b) ** 2))


@dataclasses.dataclass(frozen=True)
class QuadraticFamily(lt.TaskFamily):
    """Quadratics whose loss scale is drawn log-uniformly from [0.5, 2] (a family with values)."""

    @property
    def name(self) -> str:
        return "quadratic_family"

    def sample_structure(self, key):
        return "quadratic"

    def sample_values(self, key, structure):
        return {"log_scale": jax.random.uniform(key, (), minval=np.log(0.5), maxval=np.log(2.0))}

    def task(self, cfg):
        return QuadraticTask(scale=jnp.exp(cfg.values["log_scale"]))


class LearnedLRState(NamedTuple):
    params: Any
    model_state: Any
    step: jax.Array
    num_steps: jax.Array


@dataclasses.dataclass(frozen=True)
class LearnedLR(la.LearnedOptimizer):
    """SGD with a meta-learned log learning rate: θ = {"log_lr": ()}."""

    initial_log_lr: float = float(np.log(0.1))

    name: ClassVar[str] = "learned_lr"

    def init_meta_params(self, key):
        return {"log_lr": jnp.asarray(self.initial_log_lr, jnp.float32)}

    def optimizer(self, theta):
        def init(params, *, num_steps=None, key=None, model_state=None):
            return LearnedLRState(params, model_state, jnp.asarray(0, jnp.int32), jnp.asarray(num_steps, jnp.int32))

        def update(state, grads, *, loss=None, key=None, model_state=None):
            lr = jnp.exp(theta["log_lr"])
            params = jax.tree_util.tree_map(lambda p, g: p - lr * g, state.params, grads)
            return LearnedLRState(params, model_state, state.step + 1, state.num_steps)

        return la.Optimizer(init, update, la.get_params)


def quadratic_losses(log_lrs: np.ndarray, task: QuadraticTask = QuadraticTask()) -> np.ndarray:
    """Losses before each step of LearnedLR on `task`, in float64.

    `log_lrs[..., s]` is the log learning rate of step s; the result's
    `[..., s]` is the loss at the start of step s.
    """
    log_lrs = np.asarray(log_lrs, np.float64)
    a, b, x0 = (np.asarray(v, np.float64) for v in (task.curvature, task.target, task.start))
    factors = (1 - a * np.exp(log_lrs)[..., None]) ** 2  # [..., S, dims]
    decay = np.concatenate([np.ones_like(factors[..., :1, :]), np.cumprod(factors, axis=-2)[..., :-1, :]], axis=-2)
    return float(task.scale) * 0.5 * np.sum(a * (x0 - b) ** 2 * decay, axis=-1)


def gauss_hermite(fn, mean: float, std: float, order: int = 80) -> float:
    """E[fn(mean + std·z)] for z ~ N(0, 1) by Gauss–Hermite quadrature."""
    nodes, weights = np.polynomial.hermite_e.hermegauss(order)
    return float(np.sum(weights * fn(mean + std * nodes)) / np.sqrt(2 * np.pi))
