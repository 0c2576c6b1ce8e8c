"""Runs the update benchmark on a tiny tree and checks what it reports."""

import re

import jax.numpy as jnp
import optax
from absl import flags
from absl.testing import flagsaver

import update_benchmark

flags.FLAGS.mark_as_parsed()  # use the defaults; tests override them with flagsaver


def test_state_bytes_are_measured_from_the_state():
    params = {"w": jnp.ones((10, 10)), "b": jnp.ones(10)}
    # Adam keeps two float32 moments per parameter: 8 bytes.
    assert update_benchmark.state_bytes_per_param(optax.adam(0.1).init(params), params) == 8.0
    opt = update_benchmark.candidates()["small_fc_lopt"]()
    state = opt.init(params, num_steps=10)
    # 3 momenta + 1 second moment per element (16 B) plus small factored statistics.
    assert 16.0 < update_benchmark.state_bytes_per_param(state, params) < 20.0


def test_prints_a_row_per_optimizer(capsys):
    with flagsaver.flagsaver(sizes=["10k"], repeats=3, optimizers=["sgd", "small_fc_lopt"]):
        update_benchmark.main([])
    out = capsys.readouterr().out
    rows = {m.group(1): float(m.group(3)) for m in re.finditer(r"^(\S+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)$", out, re.M)}
    assert set(rows) == {"optax.adam", "sgd", "small_fc_lopt"}
    assert rows["optax.adam"] == 1.0
    assert "10,100 parameters (10k)" in out


def test_prints_the_celo_ratio(capsys):
    with flagsaver.flagsaver(sizes=["10k"], repeats=3, optimizers=["small_fc_lopt", "celo"]):
        update_benchmark.main([])
    assert re.search(r"^celo / small_fc_lopt: [\d.]+$", capsys.readouterr().out, re.M)
