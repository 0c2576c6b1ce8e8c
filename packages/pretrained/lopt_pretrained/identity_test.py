"""theta_sha256 against hashlib over hand-built bytes; one digest per θ however it is stored; identities compared."""

import hashlib

import jax
import jax.numpy as jnp
import lopt_architectures as la
import numpy as np

import lopt_pretrained
from lopt_pretrained import identity


def test_digest_is_sha256_of_sorted_leaves_as_float32_little_endian():
    theta = {"mlp": {"w": np.arange(6, dtype=np.float32).reshape(2, 3)}, "bias": np.float32(-1.5)}
    expected = hashlib.sha256(
        b"lopt-theta-sha256/1\n"
        + b"['bias'] float32 \n" + bytes.fromhex("0000c0bf")  # -1.5 as a float32, little-endian
        + b"['mlp']['w'] float32 2,3\n" + b"".join(np.array(v, "<f4").tobytes() for v in [0, 1, 2, 3, 4, 5])
    ).hexdigest()
    assert identity.theta_sha256(theta) == expected
    # jax arrays, a big-endian or Fortran-order copy, and dicts built in another key order: the same θ.
    assert identity.theta_sha256({"bias": jnp.float32(-1.5), "mlp": {"w": jnp.asarray(theta["mlp"]["w"])}}) == expected
    big_endian_fortran = np.asfortranarray(theta["mlp"]["w"].astype(">f4"))
    assert identity.theta_sha256({"mlp": {"w": big_endian_fortran}, "bias": theta["bias"]}) == expected


def test_one_element_or_a_shape_changes_the_digest():
    theta = {"a": np.zeros((2, 3), np.float32), "b": np.ones(4, np.float32)}
    changed = {"a": theta["a"].copy(), "b": theta["b"]}
    changed["a"][1, 2] = np.nextafter(np.float32(0), np.float32(1))
    reshaped = {"a": theta["a"].reshape(3, 2), "b": theta["b"]}
    renamed = {"a": theta["a"], "c": theta["b"]}
    digests = {identity.theta_sha256(t) for t in (theta, changed, reshaped, renamed)}
    assert len(digests) == 4


def test_a_registry_entry_and_a_reference_file_give_the_digest_of_the_theta_they_hold(tmp_path):
    lopt = la.celo()
    theta = jax.tree_util.tree_map(lambda x: x + 0.25, lopt.init_meta_params(jax.random.PRNGKey(1)))
    digest = identity.theta_sha256(theta)
    lopt_pretrained.save_entry(str(tmp_path / "entry"), "entry", lopt, theta)
    assert identity.theta_sha256(lopt_pretrained.load_entry(str(tmp_path / "entry")).theta) == digest
    lopt_pretrained.write_flax_msgpack(tmp_path / "theta.state", lopt_pretrained.to_reference("celo", theta))
    assert identity.theta_sha256(lopt_pretrained.load_reference_checkpoint(tmp_path / "theta.state", "celo")) == digest


def test_identities_record_the_configuration_as_entries_store_it(tmp_path):
    lopt = la.small_fc_lopt(hidden_size=8)
    theta = lopt.init_meta_params(jax.random.PRNGKey(0))
    lopt_pretrained.save_entry(str(tmp_path / "e"), "e", lopt, theta)
    mine = identity.learned_identity(lopt, theta)
    assert mine["config"] == lopt_pretrained.entry_info(str(tmp_path / "e"))["config"]
    assert mine["config"]["hidden_size"] == 8 and mine["architecture"] == "small_fc_lopt"
    assert identity.same_candidate(dict(mine), mine)
    other_config = identity.learned_identity(la.small_fc_lopt(hidden_size=4), theta)
    other_theta = identity.learned_identity(lopt, jax.tree_util.tree_map(lambda x: x * 2 + 1, theta))
    adam = identity.hand_designed_identity("adam", {"learning_rate": 1e-3})
    for found in (other_config, other_theta, adam, None, {}, "adam"):
        assert not identity.same_candidate(found, mine)
    assert identity.same_candidate({"kind": "hand_designed", "name": "adam", "hyperparameters": {"learning_rate": 1e-3}},
                                   adam)
    assert identity.describe_identity(adam) == "adam (learning_rate=0.001)"
    assert identity.describe_identity(mine) == f"the small_fc_lopt θ with sha256 {mine['theta_sha256'][:12]}…"


def test_a_configuration_recorded_before_a_field_was_added_matches_at_its_default():
    lopt = la.nn_adam()
    mine = identity.learned_identity(lopt, lopt.init_meta_params(jax.random.PRNGKey(0)))
    older = {**mine, "config": {k: v for k, v in mine["config"].items() if k != "schedule_knots"}}
    assert identity.same_candidate(older, mine)
    for config in ({**mine["config"], "schedule_knots": 6}, {**mine["config"], "no_such_field": 1}, None, [1]):
        assert not identity.same_candidate({**mine, "config": config}, mine)
    assert not identity.same_candidate({**mine, "architecture": "no_such_architecture"}, mine)
