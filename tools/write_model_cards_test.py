"""tools/write_model_cards: writes every entry's card, and --check finds the stale ones."""

import jax
import lopt_architectures as la
import lopt_pretrained
import pytest
from absl import flags
from absl.testing import flagsaver

import model_card
import write_model_cards

flags.FLAGS.mark_as_parsed()


@pytest.fixture
def registry(tmp_path):
    lopt = la.small_fc_lopt()
    for name in ("a", "b"):
        lopt_pretrained.registry.save_entry(str(tmp_path / name), name, lopt, lopt.init_meta_params(
            jax.random.PRNGKey(0)), inner_length=20, description=f"entry {name}")
    return tmp_path


def run(registry, **overrides):
    with flagsaver.flagsaver(registry=str(registry), **overrides):
        return write_model_cards.main(["write_model_cards"])


def test_writes_every_card_then_checks_them(registry, capsys):
    with pytest.raises(SystemExit, match="stale or missing model cards: a, b"):
        run(registry, check=True)
    assert run(registry, entries=["a"]) == 0
    assert (registry / "a" / "README.md").read_text() == model_card.render(str(registry / "a"))
    assert not (registry / "b" / "README.md").exists()
    assert run(registry) == 0 and "wrote " in capsys.readouterr().out
    assert run(registry, check=True) == 0 and "2 model cards are current" in capsys.readouterr().out
    (registry / "b" / "README.md").write_text("edited")
    with pytest.raises(SystemExit, match="stale or missing model cards: b "):
        run(registry, check=True)


def test_unknown_entries_are_named(registry):
    with pytest.raises(SystemExit, match="no entry c in .*; known: a, b"):
        run(registry, entries=["c"])
