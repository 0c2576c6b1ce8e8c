"""Two local processes (jax.distributed, gloo) reproduce the single-process estimates."""

import json
import os
import socket
import subprocess
import sys
import textwrap

import jax
import numpy as np

from lopt_es.testing import LearnedLR, QuadraticFamily
from lopt_es.truncated import PES

WORKER = textwrap.dedent('''
    import json, sys
    import jax
    from lopt_es import distributed
    from lopt_es.testing import LearnedLR, QuadraticFamily
    from lopt_es.truncated import PES

    port, rank = sys.argv[1], int(sys.argv[2])
    distributed.initialize(f"127.0.0.1:{port}", num_processes=2, process_id=rank)
    lopt = LearnedLR()
    theta = lopt.init_meta_params(jax.random.PRNGKey(0))
    est = distributed.CrossProcessEstimator(PES(lopt, QuadraticFamily(), num_tasks=6, trunc_length=2, inner_length=6, std=0.05))
    state = est.init(jax.random.PRNGKey(1), theta)
    out = []
    for i in range(4):
        grad, state, metrics = est.estimate(state, theta, jax.random.PRNGKey(10 + i))
        out.append([float(grad["log_lr"]), metrics["meta_loss"], metrics["restarted_runs"]])
    print("RESULT " + json.dumps(out), flush=True)
    jax.distributed.shutdown()
''')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_processes_match_one():
    lopt = LearnedLR()
    theta = lopt.init_meta_params(jax.random.PRNGKey(0))
    est = PES(lopt, QuadraticFamily(), num_tasks=6, trunc_length=2, inner_length=6, std=0.05)
    state = est.init(jax.random.PRNGKey(1), theta)
    expected = []
    for i in range(4):
        grad, state, metrics = est.estimate(state, theta, jax.random.PRNGKey(10 + i))
        expected.append([float(grad["log_lr"]), metrics["meta_loss"], metrics["restarted_runs"]])

    port = free_port()
    env = dict(os.environ, JAX_PLATFORMS="cpu", PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    workers = [subprocess.Popen([sys.executable, "-c", WORKER, str(port), str(rank)], env=env, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE) for rank in (0, 1)]
    outputs = [w.communicate(timeout=300) for w in workers]
    for w, (out, err) in zip(workers, outputs):
        assert w.returncode == 0, err[-3000:]
    results = [json.loads(next(line for line in out.splitlines() if line.startswith("RESULT "))[7:])
               for out, _ in outputs]
    assert results[0] == results[1]  # every process takes the same step
    np.testing.assert_allclose(np.asarray(results[0]), np.asarray(expected), rtol=1e-5, atol=1e-7)
