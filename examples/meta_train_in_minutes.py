"""Meta-train a learned optimizer in a few minutes with lopt_es, then use it in a Haiku training loop beside Adam.

    bazel run //examples:meta_train_in_minutes -- --workdir=/tmp/lopt_example   # run it again to resume

Meta-trains small_fc_lopt (197 meta-parameters: the tradeoffs paper's small per-parameter MLP) with
PES on lopt_tasks' digits MLP: 4 tasks per meta-step, truncations of 20 steps in 200-step runs, the
mean log training loss as meta-loss, 1,000 meta-steps (4.5 minutes of meta-training on a shared
2-core machine): the recipe of the registry entry small_fc_lopt_digits_mlp (8 tasks, 1,750 steps)
at a fraction of its budget. `lopt_es.meta_train` checkpoints in the workdir and resumes from it;
θ is then saved as `tools/meta_train` saves it (`<workdir>/theta`), and
`lopt_pretrained.optax(workdir, num_training_steps)` loads it as an optax transformation for the
Haiku MLP of mlp_on_digits.py, trained beside Adam for the meta-training horizon. The two share the
data but not the code: lopt_tasks' MLP is not the Haiku one.
"""

import argparse
import os
import sys
import tempfile

import lopt_architectures as la
import lopt_es
import lopt_pretrained
import lopt_tasks
import optax

import mlp_on_digits
import side_by_side


def meta_train(workdir: str, *, meta_steps: int, num_tasks: int, trunc_length: int, inner_length: int) -> str:
    """Meta-trains small_fc_lopt on the digits MLP in `workdir`; returns the directory θ is saved in."""
    lopt = la.small_fc_lopt()
    family = lopt_tasks.SingleTaskFamily(lopt_tasks.fixed.digits_mlp())
    estimator = lopt_es.PES(lopt, family, num_tasks=num_tasks, trunc_length=trunc_length,
                            inner_length=inner_length, std=0.01, meta_loss=lopt_es.MetaLoss(log=True))
    config = lopt_es.MetaTrainConfig(num_steps=meta_steps, learning_rate=3e-3,
                                     checkpoint_every=max(1, meta_steps // 4))

    def progress(step, record):
        if (step + 1) % max(1, meta_steps // 10) == 0 or step + 1 == meta_steps:
            print(f"meta-step {step + 1}/{meta_steps}: meta-loss {record['meta_loss']:.4f} "
                  f"({record['seconds']:.2f} s)", file=sys.stderr, flush=True)

    state = lopt_es.meta_train(lopt, estimator, config, workdir, on_step=progress)
    theta_dir = os.path.join(workdir, "theta")
    la.save_theta(theta_dir, lopt, state.theta, int(state.step), tasks="task digits_mlp",
                  estimator="PES", inner_length=inner_length)
    return theta_dir


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workdir", default=None, help="meta-training directory (default: a new temporary one)")
    parser.add_argument("--meta_steps", type=int, default=1000)
    parser.add_argument("--num_tasks", type=int, default=4, help="tasks per meta-step (each run twice: ±ε)")
    parser.add_argument("--trunc_length", type=int, default=20, help="inner steps per meta-step")
    parser.add_argument("--inner_length", type=int, default=200, help="inner run length: the horizon")
    parser.add_argument("--adam_learning_rate", type=float, default=1e-2)
    parser.add_argument("--plot", default="meta_train_in_minutes.png", help="where to write the plot")
    args = parser.parse_args(argv)
    workdir = side_by_side.output_path(args.workdir) if args.workdir else tempfile.mkdtemp(prefix="lopt_meta_train_")
    theta_dir = meta_train(workdir, meta_steps=args.meta_steps, num_tasks=args.num_tasks,
                           trunc_length=args.trunc_length, inner_length=args.inner_length)
    print(f"meta-trained θ in {theta_dir}")
    steps = args.inner_length
    optimizers = {
        f"adam (lr {args.adam_learning_rate:g})": optax.with_extra_args_support(optax.adam(args.adam_learning_rate)),
        "small_fc_lopt (this run)": lopt_pretrained.optax(workdir, num_training_steps=steps),
    }
    runs = {name: mlp_on_digits.train(tx, steps) for name, tx in optimizers.items()}
    side_by_side.report(runs, args.plot, f"Haiku MLP on digits, {steps} steps, after {args.meta_steps} meta-steps")
    return runs


if __name__ == "__main__":
    main()
