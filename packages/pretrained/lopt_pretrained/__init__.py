"""lopt_pretrained: learned optimizers' meta-parameters — registry (Celo's weights too), reference files, optax drop-ins.

    import lopt_pretrained
    tx = lopt_pretrained.optax("celo", num_training_steps=5_000)   # any entry, θ directory or weights file
    lopt_pretrained.horizons("celo")                                # the run lengths it was trained and evaluated on
    lopt, theta, info = lopt_pretrained.load("small_fc_lopt_digits_mlp")   # see lopt_pretrained.names()
    theta = lopt_pretrained.from_reference("small_fc_lopt", reference_tree)
    theta = lopt_pretrained.load_reference_checkpoint("params", "velo")
    tx = lopt_pretrained.velo_optax(num_training_steps=10_000, weights="params")
    tx = lopt_pretrained.pretrained_optax("celo", num_training_steps=5_000)   # Celo's released weights
"""

from importlib import resources as _resources

from lopt_pretrained.checkpoints import load_reference_checkpoint, save_reference_checkpoint
from lopt_pretrained.drop_in import MAX_TRAINING_STEPS, optax, with_weight_decay
from lopt_pretrained.flax_msgpack import CheckpointFormatError, read_flax_msgpack, write_flax_msgpack
from lopt_pretrained.horizon_contract import HorizonWarning, Horizons, horizons
from lopt_pretrained.identity import (
    describe_identity,
    hand_designed_identity,
    learned_identity,
    same_candidate,
    theta_sha256,
)
from lopt_pretrained.reference import from_reference, to_reference
from lopt_pretrained.registry import (
    ORIGIN_LOPT,
    ORIGIN_THIRD_PARTY,
    Pretrained,
    UnknownPretrainedError,
    entry_info,
    info,
    load,
    load_entry,
    names,
    save_entry,
)
from lopt_pretrained.third_party import (
    CELO2_WEIGHTS_ENV,
    celo2_optax,
    celo_adam_optax,
    celo_optax,
    default_celo2_weights_paths,
    load_celo2_weights,
    pretrained_optax,
)
from lopt_pretrained.theta_dir import load_theta_dir
from lopt_pretrained.velo_optax import (
    VELO_CHECKPOINT,
    VELO_WEIGHTS_ENV,
    VELO_WEIGHTS_URL,
    default_velo_weights_paths,
    load_velo_weights,
    velo_optax,
)

__version__ = _resources.files(__name__).joinpath("VERSION").read_text().strip()

# `optax` (the drop-in) is public but left out of __all__: a star import would shadow the optax library.
__all__ = [
    "CELO2_WEIGHTS_ENV",
    "HorizonWarning",
    "Horizons",
    "MAX_TRAINING_STEPS",
    "ORIGIN_LOPT",
    "ORIGIN_THIRD_PARTY",
    "celo2_optax",
    "celo_adam_optax",
    "celo_optax",
    "default_celo2_weights_paths",
    "load_celo2_weights",
    "pretrained_optax",
    "CheckpointFormatError",
    "VELO_CHECKPOINT",
    "VELO_WEIGHTS_ENV",
    "VELO_WEIGHTS_URL",
    "Pretrained",
    "UnknownPretrainedError",
    "default_velo_weights_paths",
    "describe_identity",
    "entry_info",
    "from_reference",
    "hand_designed_identity",
    "horizons",
    "info",
    "learned_identity",
    "load",
    "load_entry",
    "load_theta_dir",
    "load_velo_weights",
    "load_reference_checkpoint",
    "names",
    "read_flax_msgpack",
    "same_candidate",
    "save_entry",
    "save_reference_checkpoint",
    "theta_sha256",
    "to_reference",
    "velo_optax",
    "with_weight_decay",
    "write_flax_msgpack",
]
