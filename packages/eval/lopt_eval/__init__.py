"""lopt_eval: training runs, tuned baselines, speedups, the overhead study, plots and results files.

    results = lopt_eval.evaluate("mine", lambda: lopt.optimizer(theta), {"digits_mlp": task},
                                 lopt_eval.EvaluationConfig(num_steps=500))
    lopt_eval.save("results.json", results)
"""

from importlib import resources as _resources

from lopt_eval import baseline_cache, overhead, plots, progress, scorecard, suites
from lopt_eval.baselines import LEARNING_RATES, lr_sweep, meta_loss_at, nadamw_search
from lopt_eval.evaluation import EvaluationConfig, evaluate, final_loss
from lopt_eval.runner import Curves, train
from lopt_eval.schema import Results, ResultsError, Run, Summary, load, merge, save
from lopt_eval.speedup import SortedSpeedups, SpeedupResult, sorted_speedups, speedup

__version__ = _resources.files(__name__).joinpath("VERSION").read_text().strip()

__all__ = [
    "Curves",
    "baseline_cache",
    "scorecard",
    "suites",
    "EvaluationConfig",
    "LEARNING_RATES",
    "Results",
    "ResultsError",
    "Run",
    "SortedSpeedups",
    "SpeedupResult",
    "Summary",
    "evaluate",
    "final_loss",
    "load",
    "merge",
    "lr_sweep",
    "meta_loss_at",
    "nadamw_search",
    "overhead",
    "plots",
    "progress",
    "save",
    "sorted_speedups",
    "speedup",
    "train",
]
