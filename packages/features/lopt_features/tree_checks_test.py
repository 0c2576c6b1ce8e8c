import jax.numpy as jnp
import pytest

from lopt_features import tree_checks


def test_leaf_names_follow_jax_key_paths():
    tree = {"b": [jnp.ones(1), jnp.ones(2)], "a": jnp.ones(())}
    assert [name for name, _ in tree_checks.named_leaves(tree)] == ["['a']", "['b'][0]", "['b'][1]"]
    assert tree_checks.named_leaves(jnp.ones(3))[0][0] == "<root>"


def test_check_matches_reports_structure_and_shapes():
    expected = {"w": jnp.ones((2, 3, 4))}
    tree_checks.check_matches(expected, {"w": jnp.ones((2, 3))}, what="op", tree_name="gradient",
                              expected_name="state", expected_shape=lambda x: x.shape[:-1])
    with pytest.raises(ValueError, match=r"op: gradient leaf \['w'\] has shape \(2,\); expected \(2, 3\) to match the state"):
        tree_checks.check_matches(expected, {"w": jnp.ones(2)}, what="op", tree_name="gradient",
                                  expected_name="state", expected_shape=lambda x: x.shape[:-1])
    with pytest.raises(ValueError, match=r"structure .* instead of"):
        tree_checks.check_matches([jnp.ones(1)], (jnp.ones(1),), what="op", tree_name="g", expected_name="s")
    # Structure only:
    tree_checks.check_matches(expected, {"w": jnp.ones(7)}, what="op", tree_name="g", expected_name="s",
                              expected_shape=None)


def test_check_float_accepts_floats_and_python_scalars():
    tree_checks.check_float({"a": jnp.ones(2, jnp.bfloat16), "b": 1.0}, what="op", tree_name="parameter")
    with pytest.raises(TypeError, match=r"parameter leaf \['n'\] has dtype int32"):
        tree_checks.check_float({"n": 3}, what="op", tree_name="parameter")


def test_decay_axis_check():
    with pytest.raises(ValueError, match=r"state leaf \['m'\] has shape \(3, 2\), but the accumulator has 3 decays"):
        tree_checks.check_decay_axis({"m": jnp.ones((3, 2))}, 3, what="op", state_name="state")
