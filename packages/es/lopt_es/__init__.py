"""lopt_es: meta-gradient estimators and resumable meta-training for learned optimizers.

    import lopt_es
    estimator = lopt_es.PES(lopt, family, num_tasks=8, trunc_length=20, inner_length=2000, std=0.01)
    state = lopt_es.meta_train(lopt, estimator, lopt_es.MetaTrainConfig(num_steps=1000), workdir="runs/pes")
"""

from importlib import resources as _resources

from lopt_es import checkpoint
from lopt_es.base import (
    FamilyEstimator,
    GradientEstimator,
    Metrics,
    combine_task_gradients,
    perturbations,
    pool_metrics,
)
from lopt_es.checkpoint import CheckpointError, DamagedCheckpointError
from lopt_es.curriculum import Curriculum, geometric_lengths
from lopt_es.distributed import CrossProcessEstimator
from lopt_es.full_es import FullES, FullESState
from lopt_es.inner_training import (
    EVALUATION_KEYS,
    META_TRAINING_KEYS,
    KeyScheme,
    RunKeys,
    StepKeys,
    heldout_loss,
    init_run,
    train_step,
)
from lopt_es.meta_loss import MetaLoss
from lopt_es.mixture import EstimatorMixture
from lopt_es.meta_train import (
    MetaTrainConfig,
    MetaTrainState,
    StalledError,
    apply_meta_update,
    default_run_config,
    init_state,
    initial_meta_params,
    meta_train,
)
from lopt_es.sharding import member_mesh, shard_members
from lopt_es.truncated import PES, TruncatedBPTT, TruncatedES, TruncatedState
from lopt_es.workdir import MetricsError, ResumeError, read_metrics

__version__ = _resources.files(__name__).joinpath("VERSION").read_text().strip()

__all__ = [
    "CheckpointError",
    "DamagedCheckpointError",
    "apply_meta_update",
    "checkpoint",
    "CrossProcessEstimator",
    "Curriculum",
    "EVALUATION_KEYS",
    "EstimatorMixture",
    "FamilyEstimator",
    "FullES",
    "FullESState",
    "GradientEstimator",
    "KeyScheme",
    "META_TRAINING_KEYS",
    "MetaLoss",
    "MetaTrainConfig",
    "MetaTrainState",
    "Metrics",
    "MetricsError",
    "PES",
    "ResumeError",
    "RunKeys",
    "StalledError",
    "StepKeys",
    "TruncatedBPTT",
    "TruncatedES",
    "TruncatedState",
    "combine_task_gradients",
    "default_run_config",
    "geometric_lengths",
    "heldout_loss",
    "init_run",
    "init_state",
    "initial_meta_params",
    "member_mesh",
    "meta_train",
    "perturbations",
    "pool_metrics",
    "read_metrics",
    "shard_members",
    "train_step",
]
