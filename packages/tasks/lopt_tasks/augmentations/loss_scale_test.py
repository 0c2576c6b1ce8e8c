import jax
import jax.numpy as jnp
import numpy as np

from lopt_tasks.augmentations._testing import RegressionFamily, TanhRegression, batch_of, grad_of
from lopt_tasks.augmentations.loss_scale import ScaledLoss, ScaledLossAugmentation
from lopt_tasks.augmentations.wrapper import AugmentedFamily

KEY = jax.random.PRNGKey(0)


class LogTanhRegression(TanhRegression):
    """The log of `TanhRegression`'s loss, declared as such."""

    def loss(self, params, key, batch):
        return jnp.log(super().loss(params, key, batch))

    @property
    def log_loss_scale(self):
        return 1.0


def test_loss_gradient_and_normalizer_scale_by_the_factor():
    base = TanhRegression()
    params, batch = base.init(KEY), batch_of(base)
    want_loss, want_grads, _ = grad_of(base, params, KEY, batch)
    for scale in (1e-3, 7.0):
        task = ScaledLoss(base, scale)
        loss, grads, _ = grad_of(task, params, KEY, batch)
        np.testing.assert_allclose(loss, scale * want_loss, rtol=1e-6)
        for name in grads:
            np.testing.assert_allclose(grads[name] / scale, want_grads[name], rtol=1e-4, atol=1e-6)
        assert task.normalizer == scale * base.normalizer
        assert task.log_loss_scale is None  # an ordinary loss stays ordinary when scaled


def test_a_scaled_log_loss_keeps_its_log_scale():
    # loss = scale · log(q): the scale of the logarithm is the factor, also through a second wrapper.
    log_task = LogTanhRegression()
    assert ScaledLoss(log_task, 7.0).log_loss_scale == 7.0
    assert ScaledLoss(ScaledLoss(log_task, 2.0), 0.5).log_loss_scale == 1.0


def test_family_version_samples_log_uniform_scales_as_values():
    family = AugmentedFamily(RegressionFamily(), (ScaledLossAugmentation((1e-2, 1e2)),))
    cfgs = family.sample_batch(KEY, 2000)
    logs = np.log10(np.exp(np.asarray(cfgs.values["loss_scale"]["log_scale"])))
    assert logs.min() >= -2 and logs.max() <= 2 and abs(logs.mean()) < 0.1
    one = jax.tree_util.tree_map(lambda x: x[0], cfgs)
    task = family.task(one)
    inner = RegressionFamily().task(type(one)(one.structure.inner, one.values["inner"]))
    params = task.init(KEY)
    np.testing.assert_allclose(
        task.loss(params, KEY, batch_of(task)), 10 ** logs[0] * inner.loss(params, KEY, batch_of(task)), rtol=1e-5
    )
    assert jnp.ndim(task.normalizer) == 0
