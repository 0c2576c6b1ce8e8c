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
    known = "celo, celo2, celo_adam, fc_lopt, nn_adam, rnn_fc_lopt, small_fc_lopt, velo"
    with pytest.raises(KeyError, match=f"unknown architecture 'velo9'; known: {known}"):
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


def test_celo_family_trees():
    """The authors' names; Celo's update rule is a bank of one MLP there (a leading axis of 1), ours is one MLP."""
    theta = la.celo().init_meta_params(jax.random.PRNGKey(1))
    tree = to_reference("celo", theta)
    assert sorted(tree) == ["ff_mod_stack", "lstm_init_state", "rnn_params"]
    assert sorted(tree["rnn_params"]) == [
        "linear", "linear_1", "linear_2", "rnn/linear", "rnn_to_controls", "step_size"]
    assert tree["ff_mod_stack"]["~"]["w0__13"].shape == (1, 3, 4) and tree["ff_mod_stack"]["~"]["b2"].shape == (1, 3)
    np.testing.assert_array_equal(tree["ff_mod_stack"]["~"]["w0__13"][0], theta["update_rule"]["w0"]["fac_m"])
    np.testing.assert_array_equal(tree["rnn_params"]["linear_1"]["w"], theta["scheduler"]["mix"]["w"])
    jax.tree.map(np.testing.assert_array_equal, from_reference("celo", tree), theta)
    adam = la.celo_adam().init_meta_params(jax.random.PRNGKey(2))
    assert "rnn_to_controls" not in to_reference("celo_adam", adam)["rnn_params"]
    jax.tree.map(np.testing.assert_array_equal, from_reference("celo_adam", to_reference("celo_adam", adam)), adam)
    celo2 = la.celo2().init_meta_params(jax.random.PRNGKey(3))
    tree2 = to_reference("celo2", celo2)
    assert tree2["ff_mod_stack"]["~"]["w0__0"].shape == (1, 8)  # not stacked in Celo2
    jax.tree.map(np.testing.assert_array_equal, from_reference("celo2", tree2), celo2)
    tree["ff_mod_stack"]["~"]["w1"] = np.ones((1, 4, 5), np.float32)
    with pytest.raises(ValueError, match=r"\['ff_mod_stack'\]\['~'\]\['w1'\] has shape \(4, 5\); expected \(4, 4\)"):
        from_reference("celo", tree)
