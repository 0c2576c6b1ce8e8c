"""Named, versioned task suites: a frozen held-out benchmark and a disjoint validation set.

A quality claim about a meta-trained optimizer is only as good as the tasks it
is measured on. The *held-out* suite is never used for meta-training or for
choosing a checkpoint, and no sample of its task families is either; the
*validation* suite exists only to select checkpoints, and shares no task and
no family with the held-out one. A suite never changes once published: a new
set of tasks is a new version (`heldout-v2`), so numbers reported against
`heldout-v1` stay comparable.

Tasks are specs (`lopt_tasks.task_from_spec`). What the held-out suite spans
(the quality issue's protocol): MLPs of other widths and depths than the tiny
8×8-digit MLPs lopt meta-trains on, and the family-sampled MLPs' other
activations; conv nets; an autoencoder; a VAE; a transformer and an RNN
language model on the on-disk text; batch sizes 32 to 512. Evaluated at 1,000
steps, and half of the tasks (the cheaper half) also at 5,000 (`-long`).
"""

import dataclasses

from lopt_tasks import task_from_spec


@dataclasses.dataclass(frozen=True)
class Suite:
    name: str
    purpose: str  # "held_out" or "validation"
    tasks: tuple[str, ...]
    num_steps: int
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    #: Adam's learning-rate sweep runs this many times `num_steps` (selected at `num_steps`), so speedups up
    #: to this factor are measured; part of every stored baseline's key, hence fixed with the suite.
    baseline_multiple: int = 2
    #: (task, unroll) for tasks whose training loop XLA:CPU runs faster unrolled (`runner.train`'s `scan_unroll`;
    #: measure with tools/scan_unroll_benchmark). Speed only: the numbers are the same.
    scan_unroll: tuple[tuple[str, int], ...] = ()


HELDOUT_V1_TASKS = (
    "digits_mlp",                              # 128x128 ReLU MLP, batch 128
    "digits_mlp:hidden_sizes=512x512",         # wider
    "digits_mlp:hidden_sizes=64x64x64",        # deeper
    "digits_mlp:batch_size=32",
    "digits_mlp:batch_size=512",
    "family:mlp:1",                            # sampled width, depth and activation
    "family:mlp:2",
    "digits_autoencoder",
    "digits_conv:channels=8x16",
    "family:conv:1",
    "family:vae:1",
    "family:transformer_lm:1",                 # byte-level, on-disk text
    "family:rnn_lm:1",
    "text_lstm",                               # the tradeoffs paper's LSTM LM on the on-disk text
)

#: The cheaper half, also evaluated at 5,000 steps.
HELDOUT_V1_LONG_TASKS = (
    "digits_mlp",
    "digits_mlp:hidden_sizes=64x64x64",
    "digits_mlp:batch_size=32",
    "family:mlp:1",
    "family:mlp:2",
    "digits_autoencoder",
    "family:vae:1",
)

#: Families and tasks none of which (nor their families) is in the held-out suite.
VALIDATION_V1_TASKS = (
    "family:autoencoder:11",
    "family:autoencoder:12",
    "family:autoencoder:13",
    "family:resnet:11",
    "family:vit:11",
)

# No task's training loop is unrolled. Measured on 2 CPU cores with `tools/scan_unroll_benchmark` (5 seeds x 100
# steps per call, run time relative to the rolled loop), the rolled loop is the fastest on both conv nets: Adam
# unrolled 20 steps is 1.9x slower on digits_conv:channels=8x16 and 3.7-4.0x slower on family:conv:1; Celo and
# small_fc_lopt unrolled 4 steps are 2.3-2.4x slower, and Celo unrolled 20 steps on digits_conv compiled for more
# than 13 minutes. The conv nets' Adam baselines stored for heldout-v1 were made unrolled 20 steps: the same
# numbers (unrolling changes only speed).

SUITES = {
    suite.name: suite for suite in (
        Suite("heldout-v1", "held_out", HELDOUT_V1_TASKS, 1000),
        Suite("heldout-v1-long", "held_out", HELDOUT_V1_LONG_TASKS, 5000),
        # Selection compares final losses only: no speedups, so the sweep runs the horizon itself.
        Suite("validation-v1", "validation", VALIDATION_V1_TASKS, 1000, baseline_multiple=1),
    )
}


def get_suite(name: str) -> Suite:
    """The suite `name`; a KeyError listing the known ones otherwise."""
    try:
        return SUITES[name]
    except KeyError:
        raise KeyError(f"unknown suite {name!r}; known: {', '.join(sorted(SUITES))}") from None


def families_of(tasks) -> set[str]:
    """The families a set of specs samples from, and the fixed tasks they vary ("digits_mlp:...": digits_mlp)."""
    out = set()
    for spec in tasks:
        parts = spec.split(":")
        out.add(f"family:{parts[1]}" if parts[0] == "family" else parts[0])
    return out


def check_disjoint(training: tuple[str, ...] | list[str], suite: Suite) -> None:
    """Raises ValueError if a training task (or its family) is in `suite`: held out means never trained on.

    Variants of a fixed task are different tasks (a 32-wide digits MLP is
    not the 128x128 one), so only families and exact specs are compared.
    """
    trained_families = {f for f in families_of(training) if f.startswith("family:")}
    clash = sorted((set(training) & set(suite.tasks)) | (trained_families & families_of(suite.tasks)))
    if clash:
        raise ValueError(f"suite {suite.name!r} ({suite.purpose}) shares {', '.join(clash)} with the training tasks.")


def resolve(suite: Suite, *, data_dir: str | None = None) -> dict:
    """spec → task for every task of the suite."""
    return {spec: task_from_spec(spec, data_dir=data_dir) for spec in suite.tasks}
