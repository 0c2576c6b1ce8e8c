"""The tradeoffs paper's overhead study (§4.1, §4.3): step time relative to SGD and optimizer memory.

For MLPs of the Fashion-MNIST MLP's shape (2 hidden ReLU layers) of every
`--study_widths` width and every `--study_batch_sizes` batch size — on the
offline 8x8 digits unless `--study_dataset` names another image dataset —
times one full jitted training step (gradient + update) of every optimizer
in interleaved, randomly ordered rounds and measures each optimizer state's
bytes per parameter (`lopt_eval.overhead`). It prints one row per
(width, batch size, optimizer):

    optimizer  width  batch  params  ms/step  x SGD  state B/param

and, given `--study_out` (checked writable before any timing), writes there
`overhead.json` (`lopt_eval.overhead.save`) and, for the largest width and
each batch size, `pareto_width<W>_batch<B>.png`:
step time relative to SGD against state bytes per parameter, one point per
optimizer, Pareto front highlighted (`lopt_eval.plots.pareto`; tradeoffs Fig. 1).
Learned optimizers run with random meta-parameters; SGD, the baseline of
every ratio, is always measured. Absolute times vary by ±50% on a shared
CPU; the ratios of one run are what is comparable.

    bazel run //tools:benchmark -- --study_widths=64,256,1024 --study_batch_sizes=32,128 \
        --study_repeats=15 --study_out=/tmp/overhead

Every flag starts with `study_`: tools' tests share one absl flag namespace
in a pytest process, and update_benchmark already defines `--optimizers`,
`--repeats` and `--sizes`.
"""

import os
import sys

os.environ.setdefault("JAX_PLATFORMS", "cpu")  # `bazel run` passes no --test_env; avoids probing for TPUs

import jax
from absl import app, flags
from lopt_eval import overhead, plots

import common_flags

_OPTIMIZERS = flags.DEFINE_list("study_optimizers", list(overhead.DEFAULT_OPTIMIZERS),
                                "Optimizers to compare (hand-designed and learned; sgd is always added).")
_WIDTHS = flags.DEFINE_list("study_widths", ["32", "128", "512", "1024"], "Hidden widths of the 2-layer MLP.")
_BATCH_SIZES = flags.DEFINE_list("study_batch_sizes", ["32", "128", "1024"], "Training batch sizes.")
_REPEATS = flags.DEFINE_integer("study_repeats", 15, "Interleaved timing rounds per width and batch size.",
                                lower_bound=1)
_DATASET = flags.DEFINE_string("study_dataset", "digits", "Image dataset of the MLP (tfds ones are read from "
                               "$TFDS_DATA_DIR, e.g. fashion_mnist, the paper's).")
_OUT = flags.DEFINE_string("study_out", None, "Directory to write overhead.json to (nothing is written if unset).")
_OWN_FLAGS = ("study_optimizers", "study_widths", "study_batch_sizes", "study_repeats", "study_dataset", "study_out")

HEADER = f"{'optimizer':<16}{'width':>7}{'batch':>7}{'params':>12}{'ms/step':>10}{'x SGD':>8}{'state B/param':>15}"


def format_row(row: dict) -> str:
    return (f"{row['optimizer']:<16}{row['width']:>7}{row['batch_size']:>7}{row['num_params']:>12,}"
            f"{row['step_seconds'] * 1e3:>10.3f}{row['ratio_to_sgd']:>8.2f}{row['state_bytes_per_param']:>15.2f}")


def _positive_ints(flag) -> list[int]:
    try:
        values = [int(v) for v in flag.value]
    except ValueError:
        values = []
    if not values or min(values) < 1:
        sys.exit(f"benchmark: --{flag.name} must be a comma-separated list of positive integers, got {flag.value}")
    return values


def _check_dataset(dataset: str, batch_sizes: list[int]) -> None:
    """Loads the dataset once, so a missing dataset or too large a batch is one line, before any timing."""
    try:
        overhead.mlp_task(1, max(batch_sizes), dataset=dataset).datasets["train"]
    except KeyError as error:
        sys.exit(f"benchmark: --study_dataset: {error.args[0]}")
    except (ValueError, FileNotFoundError) as error:
        sys.exit(f"benchmark: --study_dataset={dataset}: " + " ".join(str(error).split()))


def write_pareto_plots(rows: list[dict], out: str) -> list[str]:
    """For the largest width, one plot per batch size of step time / SGD's against state bytes per parameter."""
    width = max(r["width"] for r in rows)
    paths = []
    for batch_size in sorted({r["batch_size"] for r in rows}):
        points = [(r["optimizer"], r["state_bytes_per_param"], r["ratio_to_sgd"])
                  for r in rows if r["width"] == width and r["batch_size"] == batch_size]
        paths.append(plots.pareto(points, os.path.join(out, f"pareto_width{width}_batch{batch_size}.png"),
                                  "optimizer state (bytes per parameter)",
                                  f"step time / SGD's (MLP 2 x {width}, batch {batch_size})"))
    return paths


def parse_flags(argv: list[str]) -> list[str]:
    """absl flag parsing that reports a bad flag in one line, with the flags there are."""
    try:
        return flags.FLAGS(argv)
    except flags.Error as error:
        sys.exit(f"benchmark: {error}; flags: {', '.join('--' + f for f in _OWN_FLAGS)}")


def main(argv):
    if len(argv) > 1:
        sys.exit(f"benchmark: unexpected arguments {argv[1:]}; flags: {', '.join('--' + f for f in _OWN_FLAGS)}")
    known = overhead.known_optimizers()
    unknown = [n for n in _OPTIMIZERS.value if n not in known]
    if unknown:
        sys.exit(f"benchmark: unknown optimizers {', '.join(unknown)}; choices: {', '.join(known)}")
    widths, batch_sizes = _positive_ints(_WIDTHS), _positive_ints(_BATCH_SIZES)
    # `bazel run` starts in the runfiles tree; relative paths mean the caller's directory.
    out = os.path.join(os.environ.get("BUILD_WORKING_DIRECTORY", ""), _OUT.value) if _OUT.value else None
    if out:
        common_flags.check_output_dir("benchmark", "study_out", out)
    _check_dataset(_DATASET.value, batch_sizes)
    print(f"jax {jax.__version__} on {jax.devices()[0].device_kind}; MLP 2 x width on {_DATASET.value}; "
          f"median of {_REPEATS.value} interleaved rounds; x SGD = step time / SGD's step time")
    print(HEADER, flush=True)
    rows = overhead.overhead_study(
        _OPTIMIZERS.value, widths, batch_sizes, repeats=_REPEATS.value, dataset=_DATASET.value,
        on_rows=lambda group: print("\n".join(format_row(r) for r in group), flush=True))
    if out:
        config = {"optimizers": _OPTIMIZERS.value, "widths": widths, "batch_sizes": batch_sizes,
                  "repeats": _REPEATS.value, "dataset": _DATASET.value, "depth": 2,
                  "device": jax.devices()[0].device_kind}
        path = os.path.join(out, "overhead.json")
        overhead.save(path, rows, config)
        for written in [path, *write_pareto_plots(rows, out)]:
            print(f"wrote {written}")


if __name__ == "__main__":
    app.run(main, flags_parser=parse_flags)
