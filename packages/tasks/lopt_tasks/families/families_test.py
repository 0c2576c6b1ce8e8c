import jax
import pytest

from lopt_tasks.families import FAMILIES


def test_every_registered_family_is_named_by_its_key_and_has_reference_ranges():
    assert set(FAMILIES) == {"mlp", "conv", "resnet", "vit", "transformer_lm", "rnn_lm", "autoencoder", "vae"}
    for name, constructor in FAMILIES.items():
        family = constructor()
        assert family.name == name
        assert hash(family) == hash(constructor())  # frozen, hashable: usable as a jit static argument
        reference = constructor.reference()
        assert reference != family and reference.name == name
        # Structures of the reference ranges are drawn without touching any data.
        reference.sample_structure(jax.random.PRNGKey(0))


@pytest.mark.parametrize("name", ["mlp", "rnn_lm"])
def test_unknown_datasets_are_named(name):
    with pytest.raises(ValueError, match="must be a non-empty subset"):
        FAMILIES[name](datasets=("nope",)).sample_structure(jax.random.PRNGKey(0))
