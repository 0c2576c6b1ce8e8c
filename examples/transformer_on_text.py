"""A small Haiku transformer language model on on-disk text, trained with Adam and with a learned optimizer.

    bazel run //examples:transformer_on_text                     # Adam and Celo, 1,000 steps each (4 min)
    bazel run //examples:transformer_on_text -- --optimizer=nn_adam_families --steps=200 --plot=lm.png

The text is the licence texts every Debian and Ubuntu system ships in /usr/share/common-licenses, read
as bytes by `lopt_tasks.byte_text_dataset("licenses", ...)` (no tokenizer: a vocabulary of 256; the
last 10% held out). The model is a causal pre-LayerNorm transformer; the loss, next-byte cross-entropy
in nats. The training loop is an ordinary optax loop that passes the loss as an extra argument, which
the learned optimizer reads and Adam (through `optax.with_extra_args_support`) ignores.
"""

import argparse
import dataclasses

import haiku as hk
import jax
import jax.numpy as jnp
import lopt_pretrained
import lopt_tasks
import numpy as np
import optax

import side_by_side

VOCAB = 256
TEST_BATCHES = 8


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """Sizes of the language model and of its batches."""

    d_model: int = 64
    num_layers: int = 2
    num_heads: int = 4
    sequence_length: int = 64
    batch_size: int = 32


def language_model(tokens, config: ModelConfig):
    """Next-byte logits [B, T, 256] of a causal transformer over byte tokens [B, T]."""
    init = hk.initializers.VarianceScaling(1.0, "fan_in", "truncated_normal")
    length = tokens.shape[1]
    x = hk.Embed(VOCAB, config.d_model)(tokens)
    x = x + hk.get_parameter("positions", [config.sequence_length, config.d_model], init=init)[:length]
    causal = jnp.tril(jnp.ones((length, length), bool))[None, None]
    for _ in range(config.num_layers):
        h = hk.LayerNorm(-1, True, True)(x)
        x = x + hk.MultiHeadAttention(config.num_heads, config.d_model // config.num_heads, w_init=init)(
            h, h, h, mask=causal)
        h = hk.LayerNorm(-1, True, True)(x)
        x = x + hk.nets.MLP([4 * config.d_model, config.d_model], w_init=init, activation=jax.nn.gelu)(h)
    return hk.Linear(VOCAB, w_init=init)(hk.LayerNorm(-1, True, True)(x))


def train(tx: optax.GradientTransformationExtraArgs, steps: int, config: ModelConfig = ModelConfig(), seed: int = 0):
    """(training loss per step, mean loss on held-out batches) of the model trained with `tx`."""
    splits = lopt_tasks.byte_text_dataset("licenses", config.batch_size, config.sequence_length)
    net = hk.without_apply_rng(hk.transform(lambda tokens: language_model(tokens, config)))

    def loss_fn(params, tokens):
        logits = net.apply(params, tokens[:, :-1])
        return optax.softmax_cross_entropy_with_integer_labels(logits, tokens[:, 1:]).mean()

    @jax.jit
    def step(params, opt_state, tokens):
        loss, grads = jax.value_and_grad(loss_fn)(params, tokens)
        updates, opt_state = tx.update(grads, opt_state, params, loss=loss)
        return optax.apply_updates(params, updates), opt_state, loss

    params = net.init(jax.random.PRNGKey(seed), splits["train"].batch(0, seed)["tokens"][:, :-1])
    opt_state = tx.init(params)
    losses = []
    for i in range(steps):
        params, opt_state, loss = step(params, opt_state, splits["train"].batch(i, seed)["tokens"])
        losses.append(float(loss))
    held_out = jax.jit(loss_fn)
    test = np.mean([float(held_out(params, splits["test"].batch(i, seed)["tokens"])) for i in range(TEST_BATCHES)])
    return np.asarray(losses), float(test)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--optimizer", default="celo", help="registry entry (or θ directory) of the learned optimizer")
    parser.add_argument("--steps", type=int, default=1000, help="training steps (the learned optimizer's horizon)")
    parser.add_argument("--adam_learning_rate", type=float, default=3e-3)
    for field in dataclasses.fields(ModelConfig):
        parser.add_argument(f"--{field.name}", type=int, default=field.default)
    parser.add_argument("--plot", default="transformer_on_text.png", help="where to write the plot")
    args = parser.parse_args(argv)
    config = ModelConfig(**{f.name: getattr(args, f.name) for f in dataclasses.fields(ModelConfig)})
    optimizers = {
        f"adam (lr {args.adam_learning_rate:g})": optax.with_extra_args_support(optax.adam(args.adam_learning_rate)),
        args.optimizer: lopt_pretrained.optax(args.optimizer, num_training_steps=args.steps),  # the one line
    }
    runs = {name: train(tx, args.steps, config) for name, tx in optimizers.items()}
    side_by_side.report(runs, args.plot, f"byte-level transformer LM on licence texts, {args.steps} steps")
    return runs


if __name__ == "__main__":
    main()
