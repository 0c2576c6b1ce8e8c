"""saved_theta.load: a θ directory and a registry entry give their θ and step; bad sources raise one error type."""

import jax
import lopt_architectures as la
import lopt_pretrained
import numpy as np
import pytest

import saved_theta


def test_a_directory_and_a_registry_entry():
    lopt, theta, step = saved_theta.load("pretrained:small_fc_lopt_digits_mlp")
    expected_lopt, expected, _ = lopt_pretrained.load("small_fc_lopt_digits_mlp")
    assert (lopt, step) == (expected_lopt, 0)
    jax.tree_util.tree_map(np.testing.assert_array_equal, theta, expected)


def test_a_saved_directory_gives_its_step(tmp_path):
    lopt = la.small_fc_lopt()
    theta = jax.tree_util.tree_map(lambda x: x + 1.0, lopt.init_meta_params(jax.random.PRNGKey(3)))
    la.save_theta(str(tmp_path), lopt, theta, 40)
    loaded_lopt, loaded, step = saved_theta.load(str(tmp_path))
    assert loaded_lopt == lopt and step == 40
    jax.tree_util.tree_map(np.testing.assert_array_equal, loaded, theta)


@pytest.mark.parametrize("source,message", [
    ("pretrained:nope", "no pretrained optimizer 'nope'"),
    ("/nonexistent/theta", "no saved meta-parameters"),
])
def test_bad_sources(source, message):
    with pytest.raises(saved_theta.SavedThetaError, match=message):
        saved_theta.load(source)
    assert saved_theta.is_registry_entry(source) == source.startswith("pretrained:")


def test_read_gives_the_record_and_one_error_type_covers_every_stored_theta(tmp_path):
    lopt = la.small_fc_lopt()
    la.save_theta(str(tmp_path), lopt, lopt.init_meta_params(jax.random.PRNGKey(0)), 7, inner_length=300)
    assert saved_theta.read(str(tmp_path)).info["inner_length"] == 300
    entry = saved_theta.read("pretrained:small_fc_lopt_digits_mlp")
    assert entry.step == 0 and entry.info == lopt_pretrained.info("small_fc_lopt_digits_mlp")
    assert saved_theta.SavedThetaError is lopt_pretrained.CheckpointFormatError is la.CheckpointFormatError
