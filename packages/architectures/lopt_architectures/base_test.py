import jax.numpy as jnp
import pytest

from lopt_architectures.base import num_meta_params, require_loss, require_num_steps


def test_require_num_steps():
    assert require_num_steps(7, "opt").dtype == jnp.int32
    with pytest.raises(ValueError, match="opt.init: num_steps is required"):
        require_num_steps(None, "opt")


def test_require_loss():
    assert require_loss(2, "opt").dtype == jnp.float32
    with pytest.raises(ValueError, match="opt.update: this optimizer reads the training loss"):
        require_loss(None, "opt")
    with pytest.raises(ValueError, match=r"loss must be a scalar, got shape \(2,\)"):
        require_loss(jnp.ones(2), "opt")


def test_num_meta_params():
    assert num_meta_params({"a": jnp.ones((3, 4)), "b": [jnp.ones(2), jnp.ones(())]}) == 15
