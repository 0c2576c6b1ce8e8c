"""A learned optimizer's configuration as JSON, and back: what every saved θ records beside the architecture's name.

    config = la.config_of(la.small_fc_lopt(hidden_size=8))  # {"hidden_size": 8, ..., "momentum_decays": [0.9, ...]}
    lopt = la.from_config("small_fc_lopt", json.loads(json.dumps(config)))
    assert lopt == la.small_fc_lopt(hidden_size=8)

A configuration is the architecture's dataclass fields that its constructor
takes, as JSON reads them back (tuples become lists). Registry entries
(`lopt_pretrained.save_entry`), meta-training checkpoints
(`lopt_architectures.save_theta`) and evaluation identities store it; this is the
one place that writes and reads it, so they cannot disagree. A configuration
written before a field was added lacks that field and gets its default, so
older files keep loading; a field the architecture does not have is an error
rather than ignored, since θ was then saved for another configuration.
"""

import dataclasses
import json
from typing import Any

from lopt_architectures.base import LearnedOptimizer
from lopt_architectures.registry import make_learned_optimizer


def _init_fields(lopt: LearnedOptimizer) -> list[str]:
    return [f.name for f in dataclasses.fields(lopt) if f.init]


def config_of(lopt: LearnedOptimizer) -> dict[str, Any]:
    """`lopt`'s configuration: its constructor's fields by name, as JSON reads them back (tuples as lists).

    Raises:
      TypeError: `lopt` is not a dataclass, or a field holds what JSON cannot store (an array, another optimizer).
    """
    if not dataclasses.is_dataclass(lopt) or isinstance(lopt, type):
        raise TypeError(f"config_of: expected a learned optimizer (a dataclass), got {type(lopt).__name__}.")
    config = {}
    for field in _init_fields(lopt):
        value = getattr(lopt, field)
        try:
            config[field] = json.loads(json.dumps(value))
        except TypeError:
            raise TypeError(f"{lopt.name}: configuration field {field!r} holds a {type(value).__name__}, "
                            "which JSON cannot store.") from None
    return config


def _tuples(value: Any) -> Any:
    """JSON lists back to the tuples frozen configurations use."""
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value


def from_config(name: str, config: dict[str, Any]) -> LearnedOptimizer:
    """The learned optimizer `name` (a `LEARNED` name) with `config`, as `config_of` gives it or JSON reads it back.

    Lists become tuples; fields missing from `config` take their defaults.

    Raises:
      KeyError: `name` is no learned optimizer (the message lists the known ones).
      TypeError: `config` is not a dict.
      ValueError: `config` has a field the architecture does not have (the message names it), or a value the
        architecture refuses.
    """
    if not isinstance(config, dict):
        raise TypeError(f"{name}: a configuration is a dict of fields, got {type(config).__name__}.")
    known = _init_fields(make_learned_optimizer(name))
    unknown = [field for field in config if field not in known]
    if unknown:
        raise ValueError(f"{name}: no configuration field {', '.join(map(repr, unknown))}; "
                         f"its fields are {', '.join(known)}.")
    return make_learned_optimizer(name, **{field: _tuples(value) for field, value in config.items()})
