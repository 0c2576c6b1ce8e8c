"""The language-model example at a tiny size: both optimizers from the same start, both curves, one plot."""

import math

import numpy as np

import transformer_on_text

TINY = ["--steps=20", "--d_model=16", "--num_layers=1", "--num_heads=2", "--sequence_length=16", "--batch_size=8"]


def test_trains_with_adam_and_a_learned_optimizer_prints_both_and_plots(tmp_path, capsys):
    runs = transformer_on_text.main(TINY + [f"--plot={tmp_path / 'lm.png'}"])
    (adam, adam_test), (celo, celo_test) = runs.values()
    assert len(adam) == len(celo) == 20 and np.all(np.isfinite(adam)) and np.all(np.isfinite(celo))
    # At initialisation the logits are about N(0, 1) (a unit-variance LayerNorm, then a fan-in-scaled read-out), and
    # the mean of logsumexp over 256 such values, minus the target's, is about ln 256 + 1/2.
    assert adam[0] == celo[0] and abs(adam[0] - (math.log(256) + 0.5)) < 0.1
    assert celo[-3:].mean() < celo[0] - 0.5 and adam[-3:].mean() < adam[0] - 0.5
    assert math.isfinite(adam_test) and math.isfinite(celo_test)
    out = capsys.readouterr().out
    assert "celo" in out.splitlines()[0] and f"wrote {tmp_path / 'lm.png'}" in out
    assert (tmp_path / "lm.png").stat().st_size > 5000
