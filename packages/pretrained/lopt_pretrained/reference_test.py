import jax
import jax.numpy as jnp
import lopt_architectures as la
import numpy as np
import pytest

from lopt_pretrained.reference import from_reference, to_reference


def reference_small_fc_tree(rng):
    return {
        "adafactor_decays": rng.standard_normal(3).astype(np.float32),
        "momentum_decays": rng.standard_normal(3).astype(np.float32),
        "rms_decays": rng.standard_normal(1).astype(np.float32),
        "nn": {"~": {"w0": np.ones((39, 4), np.float32), "b0": np.zeros(4, np.float32),
                     "w1": np.ones((4, 4), np.float32), "b1": np.zeros(4, np.float32),
                     "w2": np.full((4, 2), 2.0, np.float32), "b2": np.zeros(2, np.float32)}},
    }


def test_small_fc_lopt_names_map_one_to_one():
    tree = reference_small_fc_tree(np.random.default_rng(0))
    theta = from_reference("small_fc_lopt", tree)
    np.testing.assert_array_equal(theta["decays"]["factored"], tree["adafactor_decays"])
    np.testing.assert_array_equal(theta["decays"]["second_moment"], tree["rms_decays"])
    np.testing.assert_array_equal(theta["mlp"]["w2"], tree["nn"]["~"]["w2"])
    assert la.num_meta_params(theta) == 197
    back = to_reference("small_fc_lopt", theta)
    jax.tree.map(np.testing.assert_array_equal, back, tree)


def test_fc_lopt_round_trip_from_our_init():
    lopt = la.fc_lopt()
    theta = lopt.init_meta_params(jax.random.PRNGKey(3))
    tree = to_reference("fc_lopt", theta)
    assert sorted(tree) == ["mlp/~/linear_0", "mlp/~/linear_1", "mlp/~/linear_2"]
    assert tree["mlp/~/linear_0"]["w"].shape == (19, 32)
    jax.tree.map(np.testing.assert_array_equal, from_reference("fc_lopt", tree), theta)


def test_bad_conversions_name_the_leaf():
    tree = reference_small_fc_tree(np.random.default_rng(0))
    tree["nn"]["~"]["w0"] = np.ones((38, 4), np.float32)
    with pytest.raises(ValueError, match=r"\['nn'\]\['~'\]\['w0'\] has shape \(38, 4\); expected \(39, 4\)"):
        from_reference("small_fc_lopt", tree)
    tree = reference_small_fc_tree(np.random.default_rng(0))
    del tree["rms_decays"]
    tree["extra"] = np.ones(1, np.float32)
    with pytest.raises(ValueError, match=r"unexpected leaves \['extra'\]; missing leaves \['rms_decays'\]"):
        from_reference("small_fc_lopt", tree)
    with pytest.raises(KeyError, match="unknown architecture 'velo9'; known: fc_lopt, nn_adam, rnn_fc_lopt, small_fc_lopt, velo"):
        from_reference("velo9", tree)
    with pytest.raises(ValueError, match="a 'fc_lopt' configuration was given"):
        from_reference("small_fc_lopt", tree, lopt=la.fc_lopt())


def test_non_default_configuration():
    lopt = la.small_fc_lopt(hidden_size=8, hidden_layers=1)
    theta = lopt.init_meta_params(jax.random.PRNGKey(0))
    tree = to_reference("small_fc_lopt", theta, lopt=lopt)
    assert sorted(tree["nn"]["~"]) == ["b0", "b1", "w0", "w1"]
    converted = from_reference("small_fc_lopt", tree, lopt=lopt)
    assert converted["mlp"]["w0"].shape == (39, 8)
    # The default configuration has one more layer, and w0 of width 4.
    with pytest.raises(ValueError, match=r"missing leaves \['nn'\]\['~'\]\['b2'\]"):
        from_reference("small_fc_lopt", jax.tree.map(jnp.asarray, tree))
