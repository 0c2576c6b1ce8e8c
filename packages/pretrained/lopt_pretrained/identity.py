"""What an evaluation evaluated: a learned optimizer's architecture, configuration and θ's SHA-256, or a
hand-designed optimizer's name and hyperparameters.

    identity = lopt_pretrained.learned_identity(lopt, theta)
    # {"kind": "learned", "architecture": "small_fc_lopt", "config": {...}, "theta_sha256": "ab12..."}

`tools/evaluate` records the identity of its candidate in the results'
config (`candidate_identity`) and `tools/register_pretrained` refuses an
evaluation whose identity is not that of the θ it registers: a registry
entry must not carry another optimizer's numbers.

The same θ must have one digest however it was stored — a meta-training
checkpoint (`theta/`, `theta_steps/step_<N>`), a registry entry's
`theta.npz`, or another project's weights file — so `theta_sha256` hashes
the values, not a file: the leaves in sorted key-path order, each as its
key path, shape and float32 little-endian C-order bytes. It lives here
because both tools import lopt_pretrained (packages may not import from
tools/), and lopt_pretrained reads every stored form of θ (a saved θ through
`lopt_architectures.load_theta`, the one reader of that format).
"""

import hashlib
import json
from typing import Any

import jax
import lopt_architectures as la
import numpy as np

LEARNED = "learned"
HAND_DESIGNED = "hand_designed"
_DIGEST_HEADER = b"lopt-theta-sha256/1\n"
_COMPARED = {LEARNED: ("architecture", "config", "theta_sha256"), HAND_DESIGNED: ("name", "hyperparameters")}


def theta_sha256(theta: Any) -> str:
    """SHA-256 (hex) of θ's values, independent of how θ was stored and of the order of its dict keys.

    The digest covers a format line, then per leaf in sorted `jax.tree_util.keystr` order the line
    "<key path> float32 <shape, comma-separated>\\n" and the leaf's values as float32 little-endian
    C-order bytes (every architecture's meta-parameters are float32; another dtype is hashed by its
    float32 values).
    """
    digest = hashlib.sha256(_DIGEST_HEADER)
    leaves = [(jax.tree_util.keystr(path), leaf) for path, leaf in jax.tree_util.tree_flatten_with_path(theta)[0]]
    for key, leaf in sorted(leaves, key=lambda item: item[0]):
        values = np.asarray(leaf, dtype="<f4")  # not ascontiguousarray: it makes a scalar 1-d
        digest.update(f"{key} float32 {','.join(map(str, values.shape))}\n".encode())
        digest.update(values.tobytes(order="C"))
    return digest.hexdigest()


def learned_identity(lopt: la.LearnedOptimizer, theta: Any) -> dict:
    """The identity of learned optimizer `lopt` with meta-parameters `theta`."""
    return {"kind": LEARNED, "architecture": lopt.name, "config": la.config_of(lopt),
            "theta_sha256": theta_sha256(theta)}


def hand_designed_identity(name: str, hyperparameters: dict) -> dict:
    """The identity of hand-designed optimizer `name` (a `lopt_architectures.HAND_DESIGNED` name)."""
    return {"kind": HAND_DESIGNED, "name": name, "hyperparameters": json.loads(json.dumps(hyperparameters))}


def same_candidate(found: Any, expected: dict) -> bool:
    """Whether identity `found` (as read from a results file; may be anything) names the optimizer `expected` does.

    Configurations are compared as the architecture reads them, so one recorded before a field was added to
    the architecture still matches when the field is at its default (as a registry entry's config does)."""
    if not isinstance(found, dict) or found.get("kind") != expected["kind"]:
        return False
    if found["kind"] == LEARNED:
        try:
            found = {**found, "config": la.config_of(la.from_config(found.get("architecture"), found.get("config")))}
        except (KeyError, TypeError, ValueError):  # no such architecture, or a config it cannot take
            return False
    return all(found.get(key) == expected[key] for key in _COMPARED[expected["kind"]])


def describe_identity(identity: dict) -> str:
    """E.g. 'adam (learning_rate=0.001)' or 'the small_fc_lopt θ with sha256 ab12cd34ef56…'."""
    if identity.get("kind") == HAND_DESIGNED:
        settings = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                             for k, v in (identity.get("hyperparameters") or {}).items())
        return f"{identity.get('name')}" + (f" ({settings})" if settings else "")
    return f"the {identity.get('architecture')} θ with sha256 {str(identity.get('theta_sha256'))[:12]}…"
