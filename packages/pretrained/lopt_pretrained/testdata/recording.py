"""Helpers shared by the two scripts that record parity vectors from the reference.

Plain numpy and nested dicts only; imported by record_reference_vectors.py and
record_hierarchical_vectors.py (run from this directory's scripts, which put
it on sys.path).
"""

import numpy as np

#: Separates key-path segments in the .npz keys; "/" and "~" occur in names.
SEP = "::"

#: The parameter tree: leaf name -> shape. Names sort in this order, which is
#: the order jax flattens them in.
PARAM_SHAPES = {
    "a_scalar": (),
    "b_vector": (5,),
    "c_matrix": (4, 3),
    "d_rank3": (2, 3, 4),
    "e_conv": (3, 3, 2, 4),
}

#: Gradient scale per leaf, so leaves see gradients of different magnitudes
#: (the reference normalises features per tensor; this checks we do too).
GRAD_SCALES = {
    "a_scalar": 0.01,
    "b_vector": 0.1,
    "c_matrix": 1.0,
    "d_rank3": 0.3,
    "e_conv": 3.0,
}


def flatten(tree, prefix):
    """Nested dict -> {prefix::seg::seg...: float32 ndarray}, sorted paths."""
    out = {}
    for key in sorted(tree):
        path = f"{prefix}{SEP}{key}"
        value = tree[key]
        if isinstance(value, dict):
            out.update(flatten(value, path))
        else:
            out[path] = np.asarray(value, dtype=np.float32)
    return out


def leaf_paths(tree, prefix=()):
    """Key paths (tuples) of every leaf of a nested dict, in sorted order."""
    paths = []
    for key in sorted(tree):
        if isinstance(tree[key], dict):
            paths.extend(leaf_paths(tree[key], prefix + (key,)))
        else:
            paths.append(prefix + (key,))
    return paths


def get_in(tree, path):
    for key in path:
        tree = tree[key]
    return tree


def set_in(tree, path, value):
    for key in path[:-1]:
        tree = tree[key]
    tree[path[-1]] = value


def make_params(seed):
    rng = np.random.default_rng(seed + 200)
    return {
        name: rng.normal(size=shape).astype(np.float32)
        for name, shape in PARAM_SHAPES.items()
    }


def make_grads(seed, t):
    rng = np.random.default_rng(seed + 300 + t)
    return {
        name: (rng.normal(size=shape) * GRAD_SCALES[name]).astype(np.float32)
        for name, shape in PARAM_SHAPES.items()
    }
