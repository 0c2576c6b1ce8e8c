"""Configurations: the stored form written out by hand; every architecture through JSON and back; old and bad ones."""

import json

import jax
import pytest

import lopt_architectures as la
from lopt_architectures.registry import LEARNED


def test_the_stored_form_is_the_constructor_fields_with_tuples_as_lists():
    # As registry entries (lopt_pretrained/entries/*/entry.json) have always stored it.
    assert la.config_of(la.small_fc_lopt(hidden_size=8, momentum_decays=(0.5, 0.9))) == {
        "hidden_size": 8, "hidden_layers": 2, "momentum_decays": [0.5, 0.9], "second_moment_decays": [0.999],
        "factored_decays": [0.9, 0.99, 0.999], "step_mult": 0.001, "exp_mult": 0.001, "fused": True}


def _changed(value):
    """Another valid value of a configuration field (sizes stay >= their minimum, tuples keep their length)."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 2  # nn_adam's schedule_knots: 0 or at least 2
    if isinstance(value, float):
        return value * 0.5 + 0.125
    if isinstance(value, tuple):
        return tuple(_changed(v) for v in value)
    if isinstance(value, str):
        return value + "|/scale$"  # celo2's adam_pattern: still a regular expression
    raise AssertionError(f"no test value for {value!r}")


@pytest.mark.parametrize("name", sorted(LEARNED))
def test_every_architecture_survives_json_in_a_non_default_configuration(name):
    default = LEARNED[name]()
    fields = la.config_of(default)
    overrides = {field: _changed(getattr(default, field)) for field in fields}
    lopt = LEARNED[name](**overrides)
    assert lopt.name == name and all(getattr(lopt, f) != getattr(default, f) for f in fields)
    stored = json.loads(json.dumps(la.config_of(lopt)))
    assert stored == {f: list(v) if isinstance(v, tuple) else v for f, v in overrides.items()}
    rebuilt = la.from_config(name, stored)
    assert rebuilt == lopt and type(rebuilt) is type(lopt)
    assert all(type(getattr(rebuilt, f)) is type(getattr(lopt, f)) for f in fields)  # tuples again, not lists


def test_a_configuration_saved_before_a_field_was_added_gets_its_default():
    # nn_adam_families' entry.json, written before nn_adam had fraction_features and schedule_knots.
    older = {"output_scale": 0.01, "initial_learning_rate": 0.003, "initial_beta1": 0.9, "initial_beta2": 0.999,
             "initial_epsilon": 1e-08, "decay_strength": 0.0, "lstm_hidden_size": 32}
    lopt = la.from_config("nn_adam", older)
    assert lopt == la.nn_adam(initial_learning_rate=0.003)
    assert lopt.fraction_features is False and lopt.schedule_knots == 0
    assert la.from_config("velo", {}) == la.velo()


def test_unknown_fields_names_and_configurations_are_refused_naming_them():
    with pytest.raises(ValueError, match=r"^small_fc_lopt: no configuration field 'hiden_layers'; its fields are "
                                         r"hidden_size, hidden_layers, "):
        la.from_config("small_fc_lopt", {"hidden_size": 4, "hiden_layers": 2})
    with pytest.raises(KeyError, match="unknown learned optimizer 'velo2'; known: celo, "):
        la.from_config("velo2", {})
    with pytest.raises(TypeError, match=r"^nn_adam: a configuration is a dict of fields, got list\.$"):
        la.from_config("nn_adam", [1])
    with pytest.raises(ValueError, match="hidden_size must be >= 1, got 0"):
        la.from_config("small_fc_lopt", {"hidden_size": 0})


def test_a_configuration_json_cannot_store_is_refused_naming_the_field():
    lopt = la.nn_adam()
    partial = la.partially_trained(lopt, lopt.init_meta_params(jax.random.PRNGKey(0)))
    with pytest.raises(TypeError, match=r"configuration field 'base' holds a NNAdam, which JSON cannot store"):
        la.config_of(partial)
    with pytest.raises(TypeError, match="expected a learned optimizer"):
        la.config_of(la.adam(learning_rate=0.1))
