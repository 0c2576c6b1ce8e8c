"""The meta-training example at 3 meta-steps: θ saved as tools/meta_train saves it, used as an optax drop-in."""

import jax
import lopt_architectures as la
import lopt_pretrained
import numpy as np

import meta_train_in_minutes

TINY = ["--meta_steps=3", "--num_tasks=1", "--trunc_length=5", "--inner_length=10"]


def test_meta_trains_saves_theta_and_trains_beside_adam(tmp_path, capsys):
    workdir = tmp_path / "run"
    runs = meta_train_in_minutes.main(TINY + [f"--workdir={workdir}", f"--plot={tmp_path / 'mt.png'}"])
    (adam, _), (learned, _) = runs.values()
    assert len(adam) == len(learned) == 10 and adam[0] == learned[0] and np.all(np.isfinite(learned))
    # The one θ format: what la.save_theta wrote, lopt_pretrained reads as a θ directory.
    lopt, theta, metadata = la.load_theta(str(workdir / "theta"))
    read = lopt_pretrained.load_theta_dir(workdir / "theta")
    assert read.lopt == lopt and read.info["inner_length"] == metadata["inner_length"] == 10
    jax.tree.map(np.testing.assert_array_equal, read.theta, theta)
    assert lopt_pretrained.horizons(workdir) == lopt_pretrained.Horizons((10, 10), ())
    out = capsys.readouterr()
    assert "meta-step 3/3: meta-loss" in out.err and f"meta-trained θ in {workdir / 'theta'}" in out.out
    # Run again: the workdir's meta-training is done, so it resumes at step 3 and only retrains the MLPs.
    again = meta_train_in_minutes.main(TINY + [f"--workdir={workdir}", f"--plot={tmp_path / 'mt.png'}"])
    np.testing.assert_array_equal(list(again.values())[1][0], learned)
    assert "meta-step" not in capsys.readouterr().err
