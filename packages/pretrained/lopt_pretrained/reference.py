"""Converting meta-parameters from the reference implementation to ours.

The reference implementation (`google/learned_optimization`) stores a learned
optimizer's meta-parameters as a haiku-style pytree; checkpoints hold it in
state-dict form (nested dicts, named tuples as dicts of their fields — what
`flax.serialization.msgpack_restore` returns). `from_reference` renames that
tree into ours and checks every leaf's shape against the architecture's
configuration; `to_reference` goes back.
"""

from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import lopt_architectures as la
import numpy as np

Path = tuple[str, ...]


def _small_fc_lopt_names(lopt: la.SmallFcLOpt) -> dict[Path, Path]:
    names = {
        ("adafactor_decays",): ("decays", "factored"),
        ("momentum_decays",): ("decays", "momentum"),
        ("rms_decays",): ("decays", "second_moment"),
    }
    for i in range(lopt.hidden_layers + 1):
        names[("nn", "~", f"w{i}")] = ("mlp", f"w{i}")
        names[("nn", "~", f"b{i}")] = ("mlp", f"b{i}")
    return names


def _fc_lopt_names(lopt: la.FcLOpt) -> dict[Path, Path]:
    names = {}
    for i in range(lopt.hidden_layers + 1):
        names[(f"mlp/~/linear_{i}", "w")] = ("mlp", f"w{i}")
        names[(f"mlp/~/linear_{i}", "b")] = ("mlp", f"b{i}")
    return names


def _lstm_names(ours: str) -> dict[Path, Path]:
    return {("lstm_init_state", "hidden"): (ours, "hidden"), ("lstm_init_state", "cell"): (ours, "cell")}


def _linear_names(reference: Path, ours: Path) -> dict[Path, Path]:
    return {reference + ("w",): ours + ("w",), reference + ("b",): ours + ("b",)}


def _nn_adam_names(lopt: la.NNAdam) -> dict[Path, Path]:
    names = _lstm_names("lstm_init_state")
    names.update(_linear_names(("rnn_params", "rnn/linear"), ("lstm",)))
    names.update(_linear_names(("rnn_to_controls_params", "rnn_to_controls"), ("controls",)))
    for ref, ours in (("lr", "learning_rate"), ("beta1", "beta1"), ("beta2", "beta2"), ("epsilon", "epsilon")):
        names[(f"per_layer_{ref}",)] = ("initial_hparams", ours)
    return names


def _rnn_fc_lopt_names(lopt: la.RnnFcLOpt) -> dict[Path, Path]:
    names = _lstm_names("lstm_init_state")
    names[("initial_from_lstm",)] = ("initial_from_lstm",)
    names[("initial_from_mlp",)] = ("initial_from_mlp",)
    names.update(_linear_names(("rnn_params", "rnn/linear"), ("lstm",)))
    names.update(_linear_names(("rnn_to_ff_params", "rnn_to_ff"), ("lstm_to_ff",)))
    names.update(_linear_names(("rnn_to_in_params", "rnn_to_in"), ("lstm_to_lstm",)))
    for i in range(lopt.hidden_layers + 1):
        names[("ffmod_params", f"mlp/~/linear_{i}", "w")] = ("ff_mlp", f"w{i}")
        names[("ffmod_params", f"mlp/~/linear_{i}", "b")] = ("ff_mlp", f"b{i}")
    return names


def _velo_names(lopt: la.VeLO) -> dict[Path, Path]:
    names = _lstm_names("lstm_init_state")
    for ref, ours in (("linear", "unused_mix"), ("linear_1", "mix"), ("linear_2", "input"), ("rnn/linear", "lstm"),
                      ("rnn_to_controls", "controls"), ("step_size", "step_size")):
        names.update(_linear_names(("rnn_params", ref), ("per_tensor", ours)))
    for i, (group, _) in enumerate(lopt.channel_groups):
        names[("ff_mod_stack", "~", f"w0__{i}")] = ("per_param_bank", "w0", group)
    for leaf in ("b0", "w1", "b1", "w2", "b2"):
        names[("ff_mod_stack", "~", leaf)] = ("per_param_bank", leaf)
    return names


def _celo_scheduler_names(with_controls: bool) -> dict[Path, Path]:
    names = {("lstm_init_state", leaf): ("scheduler", "lstm_init_state", leaf) for leaf in ("hidden", "cell")}
    layers = [("linear", "unused_mix"), ("linear_1", "mix"), ("linear_2", "input"), ("rnn/linear", "lstm"),
              ("step_size", "step_size")] + ([("rnn_to_controls", "controls")] if with_controls else [])
    for ref, ours in layers:
        names.update(_linear_names(("rnn_params", ref), ("scheduler", ours)))
    return names


def _update_rule_names(groups) -> dict[Path, Path]:
    names = {("ff_mod_stack", "~", f"w0__{i}"): ("update_rule", "w0", group) for i, (group, _) in enumerate(groups)}
    for leaf in ("b0", "w1", "b1", "w2", "b2"):
        names[("ff_mod_stack", "~", leaf)] = ("update_rule", leaf)
    return names


def _celo_names(lopt: la.Celo) -> dict[Path, Path]:
    return {**_celo_scheduler_names(with_controls=True), **_update_rule_names(lopt.channel_groups)}


def _celo_adam_names(lopt: la.CeloAdam) -> dict[Path, Path]:
    return _celo_scheduler_names(with_controls=False)


def _celo2_names(lopt: la.Celo2) -> dict[Path, Path]:
    return _update_rule_names(lopt.channel_groups)


#: Reference leaves stored with a leading axis of 1 that ours do not have
#: (Celo's update rule is a bank of one MLP, vmapped in the reference).
_STACKED = {"celo": ("ff_mod_stack",)}

#: Architecture name → (default configuration, reference path → our path).
_CONVERSIONS = {
    "small_fc_lopt": (la.small_fc_lopt, _small_fc_lopt_names),
    "fc_lopt": (la.fc_lopt, _fc_lopt_names),
    "nn_adam": (la.nn_adam, _nn_adam_names),
    "rnn_fc_lopt": (la.rnn_fc_lopt, _rnn_fc_lopt_names),
    "velo": (la.velo, _velo_names),
    "celo": (la.celo, _celo_names),
    "celo_adam": (la.celo_adam, _celo_adam_names),
    "celo2": (la.celo2, _celo2_names),
}


def _stacked(arch: str, ref_path: Path) -> bool:
    return ref_path[0] in _STACKED.get(arch, ())


def _flatten(tree: Mapping, prefix: Path = ()) -> dict[Path, Any]:
    flat = {}
    for key, value in tree.items():
        path = prefix + (str(key),)
        if isinstance(value, Mapping):
            flat.update(_flatten(value, path))
        else:
            flat[path] = value
    return flat


def _unflatten(flat: dict[Path, Any]) -> dict:
    tree: dict = {}
    for path, value in flat.items():
        node = tree
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = value
    return tree


def _show(path: Path) -> str:
    return "".join(f"[{key!r}]" for key in path)


def _lookup(arch: str, lopt: la.LearnedOptimizer | None):
    if arch not in _CONVERSIONS:
        raise KeyError(f"from_reference: unknown architecture {arch!r}; known: {', '.join(sorted(_CONVERSIONS))}")
    default, names = _CONVERSIONS[arch]
    lopt = default() if lopt is None else lopt
    if lopt.name != arch:
        raise ValueError(f"from_reference: architecture {arch!r} but a {lopt.name!r} configuration was given.")
    expected = jax.eval_shape(lopt.init_meta_params, jax.random.PRNGKey(0))
    shapes = {path: tuple(leaf.shape) for path, leaf in _flatten(expected).items()}
    return names(lopt), shapes


def from_reference(arch: str, tree: Mapping, *, lopt: la.LearnedOptimizer | None = None) -> dict:
    """Our meta-parameters for the reference's meta-parameter tree `tree`.

    Args:
      arch: "small_fc_lopt" (the reference's `AdafacMLPLOpt`), "fc_lopt"
        (`MLPLOpt`), "nn_adam" (`NNAdam`), "rnn_fc_lopt" (`RNNMLPLOpt`),
        "velo" (`HyperV2` in the released configuration), or one of the
        Celo family's trees (`amoudgl/celo`): "celo", "celo_adam", "celo2".
      tree: the reference's meta-parameters in state-dict form (nested
        dicts; haiku module names such as "mlp/~/linear_0" are single keys).
      lopt: our configuration, if not the default one (e.g. other widths).

    Returns:
      θ for `lopt` (float32 arrays).

    Raises:
      KeyError: unknown architecture.
      ValueError: a leaf the architecture does not have, a missing leaf, or
        a shape that differs from the configuration's; the message names
        the leaf and the expected shape.
    """
    names, shapes = _lookup(arch, lopt)
    flat = _flatten(tree)
    unknown = sorted(set(flat) - set(names))
    missing = sorted(set(names) - set(flat))
    if unknown or missing:
        parts = []
        if unknown:
            parts.append("unexpected leaves " + ", ".join(_show(p) for p in unknown))
        if missing:
            parts.append("missing leaves " + ", ".join(_show(p) for p in missing))
        raise ValueError(f"from_reference({arch!r}): the tree does not match the reference's: " + "; ".join(parts) + ".")
    ours = {}
    for ref_path, our_path in names.items():
        value = np.asarray(flat[ref_path])
        if _stacked(arch, ref_path) and value.shape[:1] == (1,) and value.ndim == len(shapes[our_path]) + 1:
            value = value[0]
        if value.shape != shapes[our_path]:
            raise ValueError(
                f"from_reference({arch!r}): leaf {_show(ref_path)} has shape {value.shape}; "
                f"expected {shapes[our_path]}."
            )
        if not np.issubdtype(value.dtype, np.floating):
            raise ValueError(f"from_reference({arch!r}): leaf {_show(ref_path)} has dtype {value.dtype}; expected float.")
        ours[our_path] = jnp.asarray(value, jnp.float32)
    return _unflatten(ours)


def to_reference(arch: str, theta: Mapping, *, lopt: la.LearnedOptimizer | None = None) -> dict:
    """The reference's state-dict tree for our meta-parameters θ (the inverse of `from_reference`)."""
    names, _ = _lookup(arch, lopt)
    flat = _flatten(theta)
    inverse = {ours: ref for ref, ours in names.items()}
    if set(flat) != set(inverse):
        raise ValueError(
            f"to_reference({arch!r}): θ has leaves {sorted(map(_show, flat))}; expected {sorted(map(_show, inverse))}."
        )
    return _unflatten({
        inverse[path]: np.asarray(value)[None] if _stacked(arch, inverse[path]) else np.asarray(value)
        for path, value in flat.items()
    })
