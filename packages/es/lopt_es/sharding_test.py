"""The meta-batch spread over 4 (simulated CPU) devices gives the single-device results.

XLA's device count is fixed when jax starts, so the check runs in a fresh
Python process with XLA_FLAGS=--xla_force_host_platform_device_count=4.
"""

import os
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent('''
    import jax, jax.numpy as jnp, numpy as np
    import lopt_architectures as la, lopt_tasks as lt
    from lopt_es import FullES, PES, TruncatedBPTT
    from lopt_es.sharding import member_mesh, shard_members
    from lopt_es.testing import LearnedLR, QuadraticFamily

    assert len(jax.devices()) == 4, jax.devices()
    try:
        shard_members(jnp.ones(6), member_mesh())
        raise AssertionError("6 members were split over 4 devices")
    except ValueError as e:
        assert "cannot be split evenly" in str(e)
    digits = (la.small_fc_lopt(), lt.SingleTaskFamily(lt.get_task("digits_mlp", batch_size=8)))
    quadratic = (LearnedLR(), QuadraticFamily())
    # An ES gradient is a sum of antithetic loss differences divided by σ: the inner losses agree to float
    # rounding (checked below through the meta-loss), and that rounding is amplified in the small differences,
    # so PES on the digits MLP (whose optimizer update is fused differently when split) agrees to 1e-3 of the
    # gradient's largest element, not elementwise.
    for cls, (lopt, family), kwargs, scale_tol in (
            (PES, digits, dict(trunc_length=2, inner_length=4), 1e-3),
            (TruncatedBPTT, quadratic, dict(trunc_length=2, inner_length=4), None),
            (FullES, quadratic, dict(inner_length=3, steps_per_call=2), None)):
        theta = lopt.init_meta_params(jax.random.PRNGKey(0))
        results = []
        for mesh in (None, member_mesh()):
            est = cls(lopt, family, num_tasks=4, mesh=mesh, **kwargs)
            state = est.init(jax.random.PRNGKey(1), theta)
            for i in range(2):
                grad, state, metrics = est.estimate(state, theta, jax.random.PRNGKey(2 + i))
            results.append((grad, metrics))
            if mesh is not None and cls is not FullES:
                devices = {d for x in jax.tree.leaves(state.pos) for d in x.sharding.device_set}
                assert len(devices) == 4, devices
        (g1, m1), (g4, m4) = results
        if scale_tol is None:
            jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7), g1, g4)
        else:
            largest = max(float(np.abs(x).max()) for x in jax.tree.leaves(g1))
            jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=0, atol=scale_tol * largest), g1, g4)
        assert abs(m1["meta_loss"] - m4["meta_loss"]) < 1e-5, (m1, m4)
        print(cls.__name__, "ok")
''')


def test_four_devices_match_one_and_uneven_splits_are_refused():
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4", JAX_PLATFORMS="cpu",
               PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    result = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split() == ["PES", "ok", "TruncatedBPTT", "ok", "FullES", "ok"]
