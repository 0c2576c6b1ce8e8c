"""The digits example at 25 steps: Adam and Celo from the same start on the same batches, both curves, one plot."""

import math
import warnings

import numpy as np

import mlp_on_digits


def test_trains_with_adam_and_a_learned_optimizer_prints_both_and_plots(tmp_path, capsys):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # 25 steps is inside Celo's horizon range: no warning
        runs = mlp_on_digits.main(["--steps=25", "--batch_size=64", f"--plot={tmp_path / 'digits.png'}"])
    assert list(runs) == ["adam (lr 0.01)", "celo"]
    (adam, adam_test), (celo, celo_test) = runs.values()
    assert len(adam) == len(celo) == 25 and np.all(np.isfinite(adam)) and np.all(np.isfinite(celo))
    # Same parameters, same first batch: the same first loss, that of a near-uniform guess over 10 classes.
    assert adam[0] == celo[0] and abs(adam[0] - math.log(10)) < 0.3
    assert celo[-5:].mean() < 0.5 * celo[0] and adam[-5:].mean() < 0.5 * adam[0]
    assert math.isfinite(adam_test) and math.isfinite(celo_test)
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["step", "adam", "(lr", "0.01)", "celo"] and out[-2].startswith("test")
    assert out[-1] == f"wrote {tmp_path / 'digits.png'}" and (tmp_path / "digits.png").stat().st_size > 5000


def test_the_split_holds_out_360_digits():
    (train_x, train_y), (test_x, test_y) = mlp_on_digits.digits()
    assert train_x.shape == (1437, 64) and test_x.shape == (360, 64) and len(train_y) + len(test_y) == 1797
    assert train_x.min() == 0.0 and train_x.max() == 1.0
