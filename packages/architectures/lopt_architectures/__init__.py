"""lopt_architectures: hand-designed and learned optimizers behind one interface.

    import lopt_architectures as la
    opt = la.adam(learning_rate=1e-3)
    state = opt.init(params, num_steps=1000)
    state = opt.update(state, grads, loss=loss)
    params = opt.get_params(state)

    lopt = la.small_fc_lopt()
    theta = lopt.init_meta_params(jax.random.PRNGKey(0))
    tx = la.as_optax(lopt.optimizer(theta), num_steps=1000)   # an optax transformation
"""

from importlib import resources as _resources

from lopt_architectures.base import (
    LearnedOptimizer,
    Optimizer,
    get_model_state,
    get_params,
    num_meta_params,
    skip_non_finite,
)
from lopt_architectures.fc_lopt import FcLOpt, FcLOptState, fc_lopt
from lopt_architectures.lstm import LSTMState
from lopt_architectures.nn_adam import NNAdam, NNAdamHparams, NNAdamState, nn_adam
from lopt_architectures.rnn_fc_lopt import RnnFcLOpt, RnnFcLOptState, record_validation_loss, rnn_fc_lopt
from lopt_architectures.hand_designed import (
    adabelief,
    adafactor,
    adagrad,
    adam,
    adamw,
    fromage,
    lamb,
    lars,
    radam,
    rmsprop,
    sgd,
    sgdm,
    sm3,
    yogi,
)
from lopt_architectures.nadamw import (
    NAdamWHyperparameters,
    NAdamWState,
    nadamw,
    sample_nadamw_hyperparameters,
)
from lopt_architectures.partial import PartiallyTrained, partially_trained
from lopt_architectures.optax_interop import AsOptaxState, OptaxOptimizerState, as_optax, from_optax
from lopt_architectures.registry import HAND_DESIGNED, LEARNED, make_learned_optimizer, make_optimizer
from lopt_architectures.config import config_of, from_config
from lopt_architectures.saved_theta import CheckpointFormatError, SavedTheta, load_theta, save_theta, theta_leaves
from lopt_architectures.schedules import warmup_cosine_schedule
from lopt_architectures.small_fc_lopt import SmallFcLOpt, SmallFcLOptState, small_fc_lopt
from lopt_architectures.velo import VeLO, VeLOState, velo
from lopt_architectures.celo import Celo, CeloAdam, CeloState, celo, celo_adam
from lopt_architectures.celo2 import Celo2, Celo2State, celo2, newton_schulz
from lopt_architectures.wrappers import AccumulationState, gradient_accumulation, weight_decay

__version__ = _resources.files(__name__).joinpath("VERSION").read_text().strip()

__all__ = [
    "AccumulationState",
    "AsOptaxState",
    "CheckpointFormatError",
    "FcLOpt",
    "FcLOptState",
    "HAND_DESIGNED",
    "LEARNED",
    "LSTMState",
    "LearnedOptimizer",
    "NAdamWHyperparameters",
    "NAdamWState",
    "NNAdam",
    "NNAdamHparams",
    "NNAdamState",
    "OptaxOptimizerState",
    "PartiallyTrained",
    "Optimizer",
    "RnnFcLOpt",
    "RnnFcLOptState",
    "SavedTheta",
    "SmallFcLOpt",
    "SmallFcLOptState",
    "Celo",
    "Celo2",
    "Celo2State",
    "CeloAdam",
    "CeloState",
    "VeLO",
    "VeLOState",
    "adabelief",
    "adafactor",
    "adagrad",
    "adam",
    "adamw",
    "as_optax",
    "fc_lopt",
    "from_config",
    "from_optax",
    "fromage",
    "get_model_state",
    "get_params",
    "gradient_accumulation",
    "lamb",
    "lars",
    "load_theta",
    "make_learned_optimizer",
    "make_optimizer",
    "nadamw",
    "nn_adam",
    "num_meta_params",
    "partially_trained",
    "radam",
    "record_validation_loss",
    "rmsprop",
    "rnn_fc_lopt",
    "sample_nadamw_hyperparameters",
    "save_theta",
    "sgd",
    "sgdm",
    "skip_non_finite",
    "sm3",
    "small_fc_lopt",
    "theta_leaves",
    "celo",
    "celo2",
    "celo_adam",
    "config_of",
    "newton_schulz",
    "velo",
    "warmup_cosine_schedule",
    "weight_decay",
    "yogi",
]
