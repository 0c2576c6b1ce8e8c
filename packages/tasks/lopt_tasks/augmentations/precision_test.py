import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lopt_tasks.augmentations._testing import TanhRegression, batch_of, grad_of
from lopt_tasks.augmentations.precision import FloatPrecision
from lopt_tasks.data import ArrayDataset

KEY = jax.random.PRNGKey(0)


@dataclasses.dataclass(frozen=True)
class DtypeRecorder(TanhRegression):
    """Records the dtypes its loss sees (at trace time) in `seen`."""

    seen: list = dataclasses.field(default_factory=list, compare=False)

    def loss(self, params, key, batch):
        self.seen.append({"w": params["w"].dtype, "x": batch["x"].dtype, "label": batch["label"].dtype})
        return super().loss(params, key, batch)

    @property
    def datasets(self):
        data = super().datasets["train"].arrays
        arrays = dict(data, label=np.arange(len(data["x"]), dtype=np.int32))
        return {"train": ArrayDataset(arrays, self.batch_size, name="recorder/train")}


@pytest.mark.parametrize("dtype, rtol", [("bfloat16", 3e-2), ("float16", 3e-3)])
def test_computation_happens_in_the_dtype_and_stays_close_to_float32(dtype, rtol):
    base = DtypeRecorder()
    task = FloatPrecision(base, dtype)
    batch = batch_of(base)
    params = task.init(KEY)
    assert all(p.dtype == jnp.dtype(dtype) for p in jax.tree_util.tree_leaves(params))
    loss, grads, _ = jax.jit(lambda p: grad_of(task, p, KEY, batch))(params)
    assert base.seen[-1] == {"w": jnp.dtype(dtype), "x": jnp.dtype(dtype), "label": jnp.dtype(jnp.int32)}
    assert loss.dtype == jnp.dtype(dtype)
    assert all(g.dtype == jnp.dtype(dtype) for g in jax.tree_util.tree_leaves(grads))
    want_loss, want_grads, _ = grad_of(TanhRegression(), TanhRegression().init(KEY), KEY, batch)
    np.testing.assert_allclose(np.float32(loss), want_loss, rtol=rtol)
    for name in grads:
        np.testing.assert_allclose(np.float32(grads[name]), want_grads[name], rtol=10 * rtol, atol=10 * rtol)


def test_float32_parameters_are_computed_in_the_dtype_but_keep_their_own_gradient_dtype():
    base = DtypeRecorder()
    params = TanhRegression().init(KEY)
    _, grads, _ = grad_of(FloatPrecision(base, "bfloat16"), params, KEY, batch_of(base))
    assert base.seen[-1]["w"] == jnp.bfloat16
    assert grads["w"].dtype == jnp.float32


def test_unknown_dtype_is_named():
    with pytest.raises(ValueError, match="dtype must be one of"):
        FloatPrecision(TanhRegression(), "float8")
