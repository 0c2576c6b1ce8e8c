"""A Haiku MLP on scikit-learn's 8x8 digits, trained with Adam and with a learned optimizer in the same loop.

    bazel run //examples:mlp_on_digits                            # Adam and Celo, 1,000 steps each (25 s)
    bazel run //examples:mlp_on_digits -- --optimizer=small_fc_lopt_digits_mlp --steps=200 --plot=digits.png

The learned optimizer is one line, `lopt_pretrained.optax(name, num_training_steps)`: an optax
transformation that reads the loss as an extra argument (`tx.update(grads, state, params, loss=loss)`).
Adam takes the same call through `optax.with_extra_args_support`, so one training loop serves both.
It prints both training losses at ten points of the run and both test losses at the end, and draws
both curves in one plot. Any registry entry works (`lopt_pretrained.names()`), as does a `tools/meta_train` workdir.
"""

import argparse

import haiku as hk
import jax
import lopt_pretrained
import numpy as np
import optax
from sklearn.datasets import load_digits

import side_by_side

TEST_SIZE = 360


def digits(seed: int = 0):
    """((train images, labels), (test images, labels)): the 1,797 digits, pixels scaled to [0, 1], 360 held out."""
    images, labels = load_digits(return_X_y=True)
    order = np.random.default_rng(seed).permutation(len(images))
    images = (images / 16.0).astype(np.float32)
    test, train = order[:TEST_SIZE], order[TEST_SIZE:]
    return (images[train], labels[train]), (images[test], labels[test])


def mlp(images):
    """Two hidden layers of 128 ReLU units: the shape of lopt's digits_mlp task."""
    return hk.nets.MLP([128, 128, 10])(images)


def train(tx: optax.GradientTransformationExtraArgs, steps: int, *, batch_size: int = 128, seed: int = 0):
    """(training loss per step, final test loss) of the MLP trained with `tx`; same data order for every `tx`."""
    (train_x, train_y), (test_x, test_y) = digits()
    net = hk.without_apply_rng(hk.transform(mlp))

    def loss_fn(params, images, labels):
        return optax.softmax_cross_entropy_with_integer_labels(net.apply(params, images), labels).mean()

    @jax.jit
    def step(params, opt_state, images, labels):
        loss, grads = jax.value_and_grad(loss_fn)(params, images, labels)
        updates, opt_state = tx.update(grads, opt_state, params, loss=loss)
        return optax.apply_updates(params, updates), opt_state, loss

    params = net.init(jax.random.PRNGKey(seed), train_x[:1])
    opt_state = tx.init(params)
    batches = np.random.default_rng(seed)
    losses = []
    for _ in range(steps):
        rows = batches.integers(0, len(train_x), batch_size)
        params, opt_state, loss = step(params, opt_state, train_x[rows], train_y[rows])
        losses.append(float(loss))
    return np.asarray(losses), float(loss_fn(params, test_x, test_y))


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--optimizer", default="celo", help="registry entry (or θ directory) of the learned optimizer")
    parser.add_argument("--steps", type=int, default=1000, help="training steps (the learned optimizer's horizon)")
    parser.add_argument("--batch_size", type=int, default=128)
    parser.add_argument("--adam_learning_rate", type=float, default=1e-2)
    parser.add_argument("--plot", default="mlp_on_digits.png", help="where to write the plot")
    args = parser.parse_args(argv)
    optimizers = {
        f"adam (lr {args.adam_learning_rate:g})": optax.with_extra_args_support(optax.adam(args.adam_learning_rate)),
        args.optimizer: lopt_pretrained.optax(args.optimizer, num_training_steps=args.steps),  # the one line
    }
    runs = {name: train(tx, args.steps, batch_size=args.batch_size) for name, tx in optimizers.items()}
    side_by_side.report(runs, args.plot, f"Haiku MLP on digits, {args.steps} steps")
    return runs


if __name__ == "__main__":
    main()
