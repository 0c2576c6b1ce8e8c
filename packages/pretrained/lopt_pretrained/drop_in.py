"""One optax drop-in for every learned optimizer lopt can load, for a training run of a stated length.

    tx = lopt_pretrained.optax("celo", num_training_steps=5_000)
    opt_state = tx.init(params)
    updates, opt_state = tx.update(grads, opt_state, params, loss=loss)   # the loss is an extra argument
    params = optax.apply_updates(params, updates)

`name_or_path` is any of: a registry entry's name (`names()`) or directory
(`save_entry`, `tools/register_pretrained`); θ saved by meta-training
(`tools/meta_train`'s `<workdir>/theta`, the workdir itself, or
`theta_steps/step_<N>`); or, with `architecture=`, a weights file in the
reference's or its authors' format (VeLO's published `params`, Celo2's
`theta.state`) or θ itself as a tree.

`num_training_steps` is part of the optimizer (many read the fraction of
training done) and is held to the horizons the optimizer was meta-trained
and evaluated on (`horizon_contract.py`): far outside them it warns once, or with
`strict=True` raises. Weight decay is optax's `add_decayed_weights` in front
of the learned optimizer, which also reads the regularised loss
(`with_weight_decay`). A run longer than `max_training_steps` (VeLO: 150,000,
the reference's `prefab.optax_lopt`) averages the gradients of ⌈T / max⌉
steps per update with `lopt_architectures.gradient_accumulation` rather than
`optax.MultiSteps`, because the learned optimizer must also read the mean
loss and be told it runs T / k steps.
"""

import math
import os
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import lopt_architectures as la
import optax as optax_lib

from lopt_pretrained import horizon_contract, registry, theta_dir
from lopt_pretrained.checkpoints import load_reference_checkpoint
from lopt_pretrained.flax_msgpack import CheckpointFormatError

#: The longest run an architecture takes without gradient accumulation (VeLO's, from the reference's prefab).
MAX_TRAINING_STEPS = {"velo": 150_000}


def _penalised(loss, params, decay: float):
    return loss + decay * sum(jnp.sum(p**2) for p in jax.tree_util.tree_leaves(params))


def with_weight_decay(
    tx: optax_lib.GradientTransformationExtraArgs, decay: float
) -> optax_lib.GradientTransformationExtraArgs:
    """`tx` with decay·φ added to the gradients (`optax.add_decayed_weights`) and decay·Σφ² to the loss it reads.

    The loss term is why this wraps `tx` instead of chaining in front of it:
    a learned optimizer reads the loss, and it should read the loss of the
    regularised objective (the reference's `WeightDecayWrapper`, Celo's and
    VeLO's releases). The state is `tx`'s own.
    """
    decayed = optax_lib.add_decayed_weights(decay)

    def update(updates, state, params=None, *, loss=None, extra_args=None, **others):
        if params is None:
            raise ValueError("with_weight_decay: update needs params (tx.update(grads, state, params, loss=loss)).")
        updates, _ = decayed.update(updates, decayed.init(params), params)
        if loss is not None:
            loss = _penalised(loss, params, decay)
        if extra_args and extra_args.get("loss") is not None:
            extra_args = {**extra_args, "loss": _penalised(extra_args["loss"], params, decay)}
        return tx.update(updates, state, params, loss=loss, extra_args=extra_args, **others)

    return optax_lib.GradientTransformationExtraArgs(tx.init, update)


def _learned_optimizer(architecture: str | la.LearnedOptimizer) -> la.LearnedOptimizer:
    return la.make_learned_optimizer(architecture) if isinstance(architecture, str) else architecture


def resolve(
    name_or_path: str | os.PathLike | Mapping, architecture: str | la.LearnedOptimizer | None = None
) -> tuple[la.LearnedOptimizer, Any, str, horizon_contract.Horizons | None]:
    """(learned optimizer, θ, a name for messages, its recorded horizons or None for bare weights).

    Raises:
      UnknownPretrainedError: neither a path nor a registry name (the message lists the names).
      CheckpointFormatError: a directory that holds no entry or saved θ, or files that are corrupt.
      ValueError: a weights file or tree without `architecture`, or one that contradicts what is recorded.
    """
    if isinstance(name_or_path, Mapping):
        if architecture is None:
            raise ValueError("lopt_pretrained.optax: θ given as a tree needs architecture= (one of "
                             f"{', '.join(sorted(la.LEARNED))}).")
        lopt = _learned_optimizer(architecture)
        return lopt, dict(name_or_path), f"{lopt.name} (θ given)", None
    path = os.fspath(name_or_path)
    if os.sep not in path and path in registry.names():
        lopt, theta, info = registry.load(path)
        recorded = horizon_contract.from_info(info, os.path.join(registry.registry_dir(), path))
        found = lopt, theta, path, recorded
    elif os.path.isfile(os.path.join(path, registry.ENTRY_FILE)):
        lopt, theta, info = registry.load_entry(path)
        found = lopt, theta, info["name"], horizon_contract.from_info(info, path)
    elif (saved := theta_dir.theta_directory(path)) is not None:
        lopt, theta, info = theta_dir.load_theta_dir(saved)
        found = lopt, theta, saved, horizon_contract.from_info(info)
    elif os.path.isfile(path):
        if architecture is None:
            raise ValueError(f"lopt_pretrained.optax: {path} is a weights file; say which architecture it holds "
                             f"(architecture=: one of {', '.join(sorted(la.LEARNED))}).")
        lopt = _learned_optimizer(architecture)
        return lopt, load_reference_checkpoint(path, lopt.name, lopt=lopt), path, None
    elif os.path.isdir(path):
        raise CheckpointFormatError(f"{path}: neither a registry entry (entry.json) nor saved meta-parameters "
                                    "(step_<s>.json, or the theta/ of a tools/meta_train workdir).")
    else:
        registry.load(path)  # raises UnknownPretrainedError, listing the known names
    if architecture is not None and _learned_optimizer(architecture).name != found[0].name:
        raise ValueError(f"lopt_pretrained.optax: {found[2]!r} is a {found[0].name}, "
                         f"not a {_learned_optimizer(architecture).name}.")
    return found


def optax(
    name_or_path: str | os.PathLike | Mapping,
    num_training_steps: int,
    *,
    weight_decay: float = 0.0,
    strict: bool = False,
    architecture: str | la.LearnedOptimizer | None = None,
    max_training_steps: int | None = None,
    key: jax.Array | None = None,
) -> optax_lib.GradientTransformationExtraArgs:
    """A learned optimizer as an optax transformation for a `num_training_steps`-step run.

    Args:
      name_or_path: a registry entry (name or directory), a meta-training θ
        directory, or with `architecture` a weights file or θ (module docstring).
      num_training_steps: the planned length of training; warns (once) when
        far outside the horizons the optimizer records (`horizon_contract.check`).
      weight_decay: decay·φ added to the gradients and decay·Σφ² to the loss
        the optimizer reads (0 disables it).
      strict: raise `ValueError` instead of warning about the horizon.
      architecture: what a weights file or θ tree is for: a
        `lopt_architectures.LEARNED` name (its default configuration) or a
        configured learned optimizer (`la.small_fc_lopt(hidden_size=8)`).
      max_training_steps: longest run without gradient accumulation
        (default: `MAX_TRAINING_STEPS` for the architecture, else none); the
        horizon checked is then the number of updates, T / k.
      key: PRNG key for optimizers that draw random numbers (default PRNGKey(0)).

    Use the loss as an extra argument: `tx.update(grads, state, params, loss=loss)`.
    """
    if num_training_steps < 1:
        raise ValueError(f"lopt_pretrained.optax: num_training_steps must be positive, got {num_training_steps}.")
    lopt, theta, label, known = resolve(name_or_path, architecture)
    limit = max_training_steps or MAX_TRAINING_STEPS.get(lopt.name)
    average = math.ceil(num_training_steps / limit) if limit and num_training_steps > limit else 1
    horizon_contract.check(label, known, num_training_steps // average, strict=strict)
    opt = lopt.optimizer(theta)
    if average > 1:
        opt = la.gradient_accumulation(opt, average)
    tx = la.as_optax(opt, num_steps=num_training_steps, key=key)
    return with_weight_decay(tx, weight_decay) if weight_decay > 0.0 else tx
