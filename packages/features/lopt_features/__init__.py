"""lopt_features: the accumulators and input features of learned optimizers.

Pure functions over pytrees with explicit state, like optax: an accumulator is
an `Accumulator(init, update)` pair, and feature functions map parameters,
gradients and accumulator states to the arrays a learned optimizer's network
reads. Decay rates may be traced arrays (they are meta-learned), every
function jits and vmaps, and outputs keep the parameters' dtype.
"""

from importlib import resources as _resources

from lopt_features.accumulator import Accumulator, ema
from lopt_features.celo import (
    CELO2_CHANNEL_GROUPS,
    CELO_SCHEDULER_FEATURES,
    celo2_channel_groups,
    celo_scheduler_features,
    normalize_last_two_axes,
)
from lopt_features.factored import (
    FactoredState,
    factored_dims,
    factored_normalized_gradient,
    factored_preconditioner,
    factored_second_moment,
    factored_tiled,
    leaf_preconditioner,
    leaf_tiled,
    safe_rsqrt,
)
from lopt_features.fc_lopt import (
    FC_LOPT_FEATURE_NAMES,
    FC_LOPT_MOMENTUM_DECAYS,
    fc_lopt_feature_names,
    fc_lopt_features,
)
from lopt_features.loss_features import (
    LossBufferState,
    LossNormalizerState,
    loss_buffer_features,
    loss_buffer_init,
    loss_buffer_update,
    loss_normalizer_corrected_mean,
    loss_normalizer_init,
    loss_normalizer_update,
    normalized_loss,
)
from lopt_features.momentum import MomentumState, momentum
from lopt_features.normalize import second_moment_normalize
from lopt_features.per_tensor import (
    TENSOR_FEATURE_NAMES,
    clipped_log_abs,
    tensor_summary,
    tensor_summary_features,
)
from lopt_features.second_moment import SecondMomentState, second_moment
from lopt_features.small_fc_lopt import (
    SMALL_FC_LOPT_FEATURE_NAMES,
    small_fc_lopt_channel_groups,
    small_fc_lopt_feature_names,
    small_fc_lopt_features,
)
from lopt_features.time_features import (
    FRACTION_CENTRES,
    TIMESCALES,
    fraction_trained_features,
    sin_time_features,
    tanh_time_features,
)
from lopt_features.tree_checks import check_float, check_matches, named_leaves
from lopt_features.velo import VELO_CHANNEL_GROUPS, VELO_TENSOR_FEATURES, velo_channel_groups, velo_tensor_features

__version__ = _resources.files(__name__).joinpath("VERSION").read_text().strip()

__all__ = [
    "CELO2_CHANNEL_GROUPS",
    "CELO_SCHEDULER_FEATURES",
    "celo2_channel_groups",
    "celo_scheduler_features",
    "normalize_last_two_axes",
    "Accumulator",
    "FC_LOPT_FEATURE_NAMES",
    "FC_LOPT_MOMENTUM_DECAYS",
    "FRACTION_CENTRES",
    "FactoredState",
    "LossBufferState",
    "LossNormalizerState",
    "MomentumState",
    "SMALL_FC_LOPT_FEATURE_NAMES",
    "SecondMomentState",
    "TENSOR_FEATURE_NAMES",
    "TIMESCALES",
    "VELO_CHANNEL_GROUPS",
    "VELO_TENSOR_FEATURES",
    "check_float",
    "check_matches",
    "clipped_log_abs",
    "ema",
    "factored_dims",
    "factored_normalized_gradient",
    "factored_preconditioner",
    "factored_second_moment",
    "factored_tiled",
    "fc_lopt_feature_names",
    "fraction_trained_features",
    "fc_lopt_features",
    "leaf_preconditioner",
    "leaf_tiled",
    "loss_buffer_features",
    "loss_buffer_init",
    "loss_buffer_update",
    "loss_normalizer_corrected_mean",
    "loss_normalizer_init",
    "loss_normalizer_update",
    "momentum",
    "named_leaves",
    "normalized_loss",
    "safe_rsqrt",
    "second_moment",
    "second_moment_normalize",
    "sin_time_features",
    "small_fc_lopt_channel_groups",
    "small_fc_lopt_feature_names",
    "small_fc_lopt_features",
    "tanh_time_features",
    "tensor_summary",
    "tensor_summary_features",
    "velo_channel_groups",
    "velo_tensor_features",
]
