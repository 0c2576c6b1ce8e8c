"""Meta-trains a learned optimizer: the lopt_es loop from flags, with progress and resumption.

    bazel run //tools:meta_train -- --lopt=small_fc_lopt --task=digits_mlp --estimator=pes \\
        --num_tasks=8 --trunc_length=20 --inner_length=2000 --outer_steps=1000 --workdir=runs/pes

`--workdir` holds checkpoints/, metrics.jsonl, meta_training.png and theta/
(the final meta-parameters with their architecture, `lopt_architectures.save_theta`'s
format, which `tools/evaluate --optimizer=checkpoint:<workdir>/theta` loads), and with `--save_theta_every`
theta_steps/step_<N>/ (θ along the way, for `tools/select_checkpoint`). Running the same command
again resumes from the newest checkpoint. Meta-train on one task (`--task`)
or on task families (`--family=mlp,conv,...`, optionally `--augment`ed; each
family contributes `--structures_per_family` groups of `--num_tasks` tasks,
pooled by `lopt_es.EstimatorMixture`). `--train_only=schedule,initial_hparams`
meta-trains only those top-level entries of θ (the rest stay at their
initialisation); `--init_theta=<dir>` starts from a saved θ
(`--init_theta=pretrained:<name>`: from a registry entry, e.g. to fine-tune; with it,
`--lopt_config` may change what leaves θ's shape alone, e.g. `adam_1d_step_mult=0.01`
for Celo). The saved
theta/ is always the whole θ, and records the command
and the meta-training wall time. A wrong flag, an
unknown name, a checkpoint of another configuration or missing data ends the
program with one line saying so.

The flags that change the result (all but --outer_steps, --checkpoint_every,
--save_theta_every, --workdir, --devices and --data_dir) are recorded in
<workdir>/config.json when a run starts; running again with any of them
changed is refused, naming the flag, its recorded and its new value.
--outer_steps may grow (that continues the run) but not fall below the steps
done. The others may change between pieces of a run: checkpointing and saving
θ do not touch the computation, the meta-batch spread over devices computes
what one device does (up to float rounding, `lopt_es.sharding`), and a data
directory holds the same data wherever it is. A run whose meta-gradients stay
non-finite (`--std=0` is refused up front for that reason) stops after 20
steps in a row with one line saying so; its steps are checkpointed.
"""

import ast
import dataclasses
import os
import sys
import time

os.environ.setdefault("JAX_PLATFORMS", "cpu")  # `bazel run` passes no --test_env; avoids probing for TPUs

import jax
import lopt_architectures as la
import lopt_es
import lopt_tasks as lt
from absl import app, flags
from lopt_eval import plots

import common_flags
import saved_theta

_LOPT = flags.DEFINE_string("lopt", "small_fc_lopt", "Learned optimizer architecture.")
_LOPT_CONFIG = flags.DEFINE_list("lopt_config", [], "Overrides of the architecture's configuration, key=value "
                                  "(numbers and booleans), e.g. initial_learning_rate=3e-3 for nn_adam.")
_TASK = flags.DEFINE_string("task", "digits_mlp", "Task to meta-train on: a lopt_tasks task spec, e.g. digits_mlp, "
                            "digits_mlp:hidden_sizes=32:batch_size=64 or family:mlp:3.")
_FAMILY = flags.DEFINE_list("family", None, "Task families to meta-train on instead of --task (lopt_tasks.FAMILIES, "
                            "or tiny_digits: the Celo recipe's tiny 8x8-digit MLP tasks, or tiny_text: tiny "
                            "context-window MLP language models on the on-disk text), comma-separated.")
_STRUCTURES = flags.DEFINE_integer("structures_per_family", 1, "With --family: task structures (architecture, "
                                   "widths, data) sampled per family; each is a group of --num_tasks tasks.",
                                   lower_bound=1)
_AUGMENT = flags.DEFINE_float("augment", 0.0, "With --family: probability of each task augmentation.", lower_bound=0.0)
_ESTIMATOR = flags.DEFINE_string("estimator", "pes", "Gradient estimator: pes, truncated_es, tbptt or full_es.")
_NUM_TASKS = flags.DEFINE_integer("num_tasks", 8, "Tasks per meta-batch.", lower_bound=1)
_TRUNC = flags.DEFINE_integer("trunc_length", 20, "Truncation length (full_es: steps per compiled call).",
                              lower_bound=1)
_INNER = flags.DEFINE_integer("inner_length", 2000, "Length of each inner training run.", lower_bound=1)
_MIN_INNER = flags.DEFINE_integer("min_inner_length", None, "Truncated estimators: draw each run's length "
                                  "log-uniformly in [this, --inner_length] (whole truncations), as Celo does.",
                                  lower_bound=1)
_STD = flags.DEFINE_float("std", 0.01, "Standard deviation of ES perturbations.", lower_bound=0.0)
_META_LOSS = flags.DEFINE_string("meta_loss", "mean", "mean or final training loss (clipped at the normalizer).")
_LOG_META_LOSS = flags.DEFINE_bool("log_meta_loss", False, "Meta-loss of the logarithm of each step's (clipped) "
                                   "loss: rewards late, small improvements as much as early ones.")
_LAST_FRACTION = flags.DEFINE_float("meta_loss_last_fraction", 1.0, "Count only the steps in this last fraction of "
                                    "each inner run in the meta-loss (1: every step).")
_PENALIZE = flags.DEFINE_bool("penalize_non_finite", False, "Score a diverged (non-finite) inner loss as a loss at "
                               "the clip value instead of dropping the task, so divergence is penalised.")
_NORMALIZE = flags.DEFINE_bool("per_task_normalization", False, "Scale each task's gradient to unit length (VeLO).")
_OUTER_STEPS = flags.DEFINE_integer("outer_steps", 1000, "Meta-training steps.", lower_bound=1)
_META_LR = flags.DEFINE_float("meta_learning_rate", 1e-3, "Adam learning rate of the meta-optimizer.", lower_bound=0.0)
_META_WD = flags.DEFINE_float("meta_weight_decay", 0.0, "Decoupled weight decay of the meta-optimizer (AdamW when "
                              "> 0, as Celo's meta-training).", lower_bound=0.0)
_REPARAM_LEVELS = flags.DEFINE_list("reparam_levels", None, "With --family: re-parameterise every task's weights at "
                                    "a level drawn from these (global, tensor, parameter), as Celo's augmentation.")
_REPARAM_RANGE = flags.DEFINE_list("reparam_range", ["1e-3", "1e3"], "With --reparam_levels: the scales' "
                                   "log-uniform range, low,high.")
_CHECKPOINT_EVERY = flags.DEFINE_integer("checkpoint_every", 50, "Checkpoint every this many steps.", lower_bound=1)
_SEED = flags.DEFINE_integer("seed", 0, "Seed of θ's initialisation and of every estimate.")
_DEVICES = flags.DEFINE_integer("devices", 1, "Spread the meta-batch over this many devices.", lower_bound=1)
_SAVE_THETA_EVERY = flags.DEFINE_integer("save_theta_every", 0, "Also save the whole θ every this many steps, to "
                                        "<workdir>/theta_steps/step_<N> (candidates for tools/select_checkpoint); "
                                        "0: only the final θ.", lower_bound=0)
_WORKDIR = flags.DEFINE_string("workdir", None, "Directory of checkpoints, metrics and the result.")
_TRAIN_ONLY = flags.DEFINE_list("train_only", None, "Meta-train only these top-level entries of θ (e.g. "
                                "schedule,initial_hparams for nn_adam); the rest stay where they start.")
_INIT_THETA = flags.DEFINE_string("init_theta", None, "Start from saved meta-parameters: a directory (a theta/ of "
                                  "an earlier run) or pretrained:<name> (a lopt_pretrained registry entry, e.g. "
                                  "pretrained:celo); its architecture replaces --lopt, and --lopt_config may only change "
                                  "what keeps θ's shape.")

ESTIMATORS = {"pes": lopt_es.PES, "truncated_es": lopt_es.TruncatedES, "tbptt": lopt_es.TruncatedBPTT,
              "full_es": lopt_es.FullES}
OWN_FLAGS = ("lopt", "lopt_config", "task", "family", "structures_per_family", "augment", "estimator", "num_tasks",
             "trunc_length", "inner_length", "std", "meta_loss", "log_meta_loss", "meta_loss_last_fraction",
             "penalize_non_finite", "per_task_normalization", "outer_steps", "meta_learning_rate", "checkpoint_every",
             "seed", "devices", "workdir", "train_only", "init_theta", "min_inner_length", "meta_weight_decay",
             "reparam_levels", "reparam_range", "save_theta_every", "data_dir")
# Flags that do not change the result: they may differ when a run resumes (see the module docstring).
RESUMABLE_FLAGS = ("outer_steps", "checkpoint_every", "save_theta_every", "workdir", "devices", "data_dir")


def fail(message) -> None:
    common_flags.fail("meta_train", message)


def choose(kind: str, name: str, table) -> None:
    if name not in table:
        fail(f"unknown {kind} {name!r}; choices: {', '.join(sorted(table))}")


def config_value(key: str, text: str, default):
    """--lopt_config's text for `key`: a Python number or boolean literal, typed like `default`."""
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        raise ValueError(f"{key}: {text!r} is not a number or boolean") from None
    kind = type(default)
    if kind is bool and isinstance(value, bool):
        return value
    if kind in (int, float) and isinstance(value, (int, float)) and not isinstance(value, bool) \
            and (kind is float or float(value).is_integer()):
        return kind(value)
    raise ValueError(f"{key}={text}: expected a {kind.__name__}, like the default {default!r}")


def lopt_config(name: str, items: list[str]) -> dict:
    """`key=value` overrides → keyword arguments of the architecture (`lopt_tasks.parse_overrides`)."""
    try:
        return lt.parse_overrides(items, lt.overrides.overridable_fields(la.make_learned_optimizer(name)),
                                  config_value)
    except lt.overrides.NotKeyValue as e:
        fail(f"--lopt_config item {e.item!r} is not key=value")
    except lt.overrides.UnknownField as e:
        fail(f"{name} has no configuration field {e.key!r}; fields: {', '.join(e.fields)}")
    except lt.overrides.UnreadableValue as e:
        fail(f"--lopt_config {e}")


def initial_theta(source: str) -> tuple[la.LearnedOptimizer, object]:
    """(architecture, θ) of --init_theta: a saved theta/ directory or pretrained:<registry entry>."""
    try:
        lopt, theta, _ = saved_theta.load(source)
    except saved_theta.SavedThetaError as e:
        fail(f"--init_theta={source}: {e}")
    return lopt, theta


def reconfigured(lopt: la.LearnedOptimizer, theta) -> la.LearnedOptimizer:
    """--init_theta's architecture with --lopt_config's overrides, which must leave θ's tree as it is (e.g. Celo's
    adam_1d_step_mult, not a hidden size): the saved θ is where meta-training starts."""
    try:
        changed = dataclasses.replace(lopt, **lopt_config(lopt.name, _LOPT_CONFIG.value))
    except ValueError as e:
        fail(f"--lopt_config: {e}")
    try:
        la.theta_leaves(changed, theta, what="the saved θ")
    except ValueError as e:
        fail(f"--lopt_config={','.join(_LOPT_CONFIG.value)} changes the shape of {lopt.name}'s meta-parameters, "
             f"so --init_theta={_INIT_THETA.value} cannot start it ({e}); only overrides that keep θ's tree can be "
             "combined with --init_theta")
    return changed


def starting_point() -> tuple[la.LearnedOptimizer, la.LearnedOptimizer]:
    """(the architecture, what ES trains): the same unless --train_only or --init_theta narrow or place θ."""
    if _INIT_THETA.value:
        lopt, theta = initial_theta(_INIT_THETA.value)
        if flags.FLAGS["lopt"].present and lopt.name != _LOPT.value:
            fail(f"--lopt={_LOPT.value} but --init_theta holds a {lopt.name}")
        if _LOPT_CONFIG.value:
            lopt = reconfigured(lopt, theta)
    else:
        choose("learned optimizer", _LOPT.value, la.LEARNED)
        try:
            lopt = la.make_learned_optimizer(_LOPT.value, **lopt_config(_LOPT.value, _LOPT_CONFIG.value))
        except ValueError as e:
            fail(f"--lopt_config: {e}")
        if not _TRAIN_ONLY.value:
            return lopt, lopt
        # θ where an unrestricted run starts, so --train_only changes only what moves.
        theta = lopt_es.initial_meta_params(lopt, _SEED.value)
    try:
        return lopt, la.partially_trained(lopt, theta, _TRAIN_ONLY.value or None)
    except ValueError as e:
        fail(f"--train_only: {e}")


def reparam_augmentation() -> lt.augmentations.ReparamAugmentation:
    """--reparam_levels / --reparam_range as an augmentation, or one line saying what is wrong."""
    try:
        low, high = (float(x) for x in _REPARAM_RANGE.value)
    except ValueError:
        fail(f"--reparam_range={','.join(_REPARAM_RANGE.value)}: expected two numbers, low,high")
    try:
        return lt.augmentations.ReparamAugmentation(tuple(_REPARAM_LEVELS.value), (low, high))
    except ValueError as e:
        fail(f"--reparam_levels/--reparam_range: {e}")


def build() -> tuple[la.LearnedOptimizer, la.LearnedOptimizer, lopt_es.GradientEstimator, str]:
    """(architecture, what ES trains, estimator, description of the tasks) from the flags."""
    choose("estimator", _ESTIMATOR.value, ESTIMATORS)
    if _META_LOSS.value not in ("mean", "final"):
        fail(f"unknown meta-loss {_META_LOSS.value!r}; choices: final, mean")
    if not 0 < _LAST_FRACTION.value <= 1:
        fail(f"--meta_loss_last_fraction={_LAST_FRACTION.value}: must be in (0, 1]")
    if _STD.value == 0 and ESTIMATORS[_ESTIMATOR.value] is not lopt_es.TruncatedBPTT:
        fail(f"--std=0: {_ESTIMATOR.value} estimates the meta-gradient from perturbations of std --std and divides "
             "by std²; with 0 every meta-gradient is NaN and θ never moves. Give a positive --std (e.g. 0.01).")
    architecture, lopt = starting_point()
    if _REPARAM_LEVELS.value and not _FAMILY.value:
        fail("--reparam_levels augments task families: give --family")
    if _FAMILY.value:
        families = []
        known = {**lt.FAMILIES, "tiny_digits": lt.TinyDigitsFamily, "tiny_text": lt.TinyTextFamily}
        for name in _FAMILY.value:
            choose("task family", name, known)
            family = common_flags.with_data_dir(known[name]())
            if _REPARAM_LEVELS.value:
                family = lt.AugmentedFamily(family, (reparam_augmentation(),), 1.0)
            if _AUGMENT.value > 0:
                family = lt.randomly_augmented(family, _AUGMENT.value)
            families.extend([family] * _STRUCTURES.value)
        tasks = (f"famil{'ies' if len(_FAMILY.value) > 1 else 'y'} {','.join(_FAMILY.value)}"
                 + (f" ({_STRUCTURES.value} structures each)" if _STRUCTURES.value > 1 else "")
                 + (f" (re-parameterised: {','.join(_REPARAM_LEVELS.value)}, scales {','.join(_REPARAM_RANGE.value)})"
                    if _REPARAM_LEVELS.value else "")
                 + (f" (augmented, p={_AUGMENT.value})" if _AUGMENT.value else ""))
    else:
        try:
            task = lt.task_from_spec(_TASK.value, data_dir=common_flags.DATA_DIR.value)
        except lt.TaskSpecError as e:
            fail(str(e))
        families = [lt.SingleTaskFamily(task)]
        tasks = f"task {_TASK.value}"
    common = dict(num_tasks=_NUM_TASKS.value, inner_length=_INNER.value, std=_STD.value,
                  meta_loss=lopt_es.MetaLoss(kind=_META_LOSS.value, log=_LOG_META_LOSS.value,
                                             non_finite="normalizer" if _PENALIZE.value else "drop",
                                             last_fraction=_LAST_FRACTION.value),
                  per_task_normalization=_NORMALIZE.value)
    if _DEVICES.value > 1:
        if _DEVICES.value > len(jax.devices()):
            fail(f"--devices={_DEVICES.value} but only {len(jax.devices())} devices are available")
        common["mesh"] = lopt_es.member_mesh(jax.devices()[:_DEVICES.value])
    cls = ESTIMATORS[_ESTIMATOR.value]
    length = dict(steps_per_call=_TRUNC.value) if cls is lopt_es.FullES else dict(trunc_length=_TRUNC.value)
    if _MIN_INNER.value is not None:
        if cls is lopt_es.FullES:
            fail("--min_inner_length is for the truncated estimators (pes, truncated_es, tbptt)")
        length["min_inner_length"] = _MIN_INNER.value
    try:
        # One estimator per (family, structure) group, each with its own data order; several are pooled.
        groups = [cls(lopt, family, data_seed=i, **length, **common) for i, family in enumerate(families)]
    except ValueError as e:
        fail(str(e))
    estimator = groups[0] if len(groups) == 1 else lopt_es.EstimatorMixture(tuple(groups))
    return architecture, lopt, estimator, tasks


class Progress:
    """One status line: steps done, meta-loss, speed and time left (the speed of this process's steps)."""

    def __init__(self, total: int):
        self.total, self.first, self.started = total, None, time.perf_counter()

    def __call__(self, step: int, record: dict) -> None:
        if self.first is None:  # the step this process started (or resumed) at
            self.first = step
        done = step + 1
        elapsed = time.perf_counter() - self.started
        rate = (done - self.first) / elapsed if elapsed > 0 else 0.0
        left = (self.total - done) / rate if rate > 0 else float("nan")
        eta = f"{int(left // 60)}m{int(left % 60):02d}s" if left == left else "?"
        line = (f"\rstep {done}/{self.total}  meta-loss {record['meta_loss']:.4f}  "
                f"{rate:.2f} steps/s  ETA {eta}   ")
        print(line, end="" if done < self.total else "\n", file=sys.stderr, flush=True)


def estimator_name() -> str:
    return ESTIMATORS[_ESTIMATOR.value].__name__


def meta_training_seconds(metrics_path: str) -> float:
    """Wall time of all meta-training steps so far, over every resumption (from metrics.jsonl)."""
    return sum(record["seconds"] for record in lopt_es.read_metrics(metrics_path))


parse_flags = common_flags.flag_parser("meta_train", OWN_FLAGS)


def run_config() -> dict:
    """The flags that determine the run's result (all but RESUMABLE_FLAGS), as recorded in <workdir>/config.json."""
    return {name: flags.FLAGS[name].value for name in OWN_FLAGS if name not in RESUMABLE_FLAGS}


def log(message: str) -> None:
    print(f"meta_train: {message}", file=sys.stderr, flush=True)


def main(argv):
    if len(argv) > 1:
        fail(f"unexpected arguments {argv[1:]}")
    if not _WORKDIR.value:
        fail("--workdir is required (checkpoints, metrics and the result go there)")
    workdir = _WORKDIR.value
    common_flags.check_output_dir("meta_train", "workdir", workdir)
    architecture, lopt, estimator, tasks = build()
    config = lopt_es.MetaTrainConfig(num_steps=_OUTER_STEPS.value, learning_rate=_META_LR.value,
                                     checkpoint_every=_CHECKPOINT_EVERY.value, seed=_SEED.value,
                                     weight_decay=_META_WD.value, eval_every=_SAVE_THETA_EVERY.value)
    print(f"meta-training {lopt.name} with {estimator_name()} on {tasks} for {config.num_steps} steps in "
          f"{workdir}", file=sys.stderr)
    started = time.perf_counter()

    def save_theta(theta, step: int) -> dict:
        """--save_theta_every: the whole θ at `step`, loadable like theta/ (meta_train calls it every N steps)."""
        whole = lopt.full(theta) if isinstance(lopt, la.PartiallyTrained) else theta
        la.save_theta(os.path.join(workdir, "theta_steps", f"step_{step}"), architecture, whole, step,
                      tasks=tasks, estimator=estimator_name(), inner_length=_INNER.value,
                      min_inner_length=_MIN_INNER.value, command=" ".join(["tools/meta_train"] + sys.argv[1:]))
        return {}

    try:
        state = lopt_es.meta_train(lopt, estimator, config, workdir, eval_fn=save_theta,
                                   on_step=Progress(config.num_steps), run_config=run_config(), log=log)
    except (lopt_es.ResumeError, lopt_es.DamagedCheckpointError, lopt_es.MetricsError, lopt_es.StalledError) as e:
        fail(e)
    except lopt_es.CheckpointError as e:
        fail(f"{e} Use the flags the run was started with, or another --workdir.")
    except (FileNotFoundError, OSError) as e:
        fail(str(e))
    theta_dir = os.path.join(workdir, "theta")
    metrics_path = os.path.join(workdir, "metrics.jsonl")
    theta = lopt.full(state.theta) if isinstance(lopt, la.PartiallyTrained) else state.theta
    la.save_theta(theta_dir, architecture, theta, int(state.step), tasks=tasks, estimator=estimator_name(),
                  inner_length=_INNER.value, min_inner_length=_MIN_INNER.value,
                  command=" ".join(["tools/meta_train"] + sys.argv[1:]),
                  meta_training_seconds=round(meta_training_seconds(metrics_path)))
    plot = plots.meta_training_curves(metrics_path, os.path.join(workdir, "meta_training.png"))
    print(f"done in {time.perf_counter() - started:.0f} s; meta-parameters in {theta_dir}, curve in {plot}")
    return 0


if __name__ == "__main__":
    app.run(main, flags_parser=parse_flags)
