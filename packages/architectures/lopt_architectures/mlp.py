"""The tiny per-parameter MLPs inside learned optimizers.

Parameters are a flat dict {"w0", "b0", "w1", "b1", …}; layer i maps
`w_i.shape[0]` inputs to `w_i.shape[1]` outputs, with ReLU between layers
and none after the last, like `haiku.nets.MLP`.
"""

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float


def init_mlp(key: jax.Array, sizes: tuple[int, ...]) -> dict[str, Array]:
    """MLP parameters for layer widths `sizes` (inputs first).

    Weights are drawn like haiku's default `Linear` initialiser: a normal
    with standard deviation 1/√fan_in truncated at two standard deviations;
    biases are zero.
    """
    params = {}
    keys = jax.random.split(key, len(sizes) - 1)
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        std = 1.0 / jnp.sqrt(fan_in)
        params[f"w{i}"] = std * jax.random.truncated_normal(keys[i], -2.0, 2.0, (fan_in, fan_out), jnp.float32)
        params[f"b{i}"] = jnp.zeros((fan_out,), jnp.float32)
    return params


def num_layers(params: dict[str, Array]) -> int:
    return len([k for k in params if k.startswith("w")])


def apply_mlp(params: dict[str, Array], x: Float[Array, "*batch n_in"]) -> Float[Array, "*batch n_out"]:
    """Runs the MLP on the last axis of `x` (matrix products)."""
    layers = num_layers(params)
    for i in range(layers):
        x = x @ params[f"w{i}"] + params[f"b{i}"]
        if i < layers - 1:
            x = jax.nn.relu(x)
    return x


def apply_mlp_elementwise(
    params: dict[str, Array], first_layer: list[Float[Array, "*shape"]]
) -> list[Float[Array, "*shape"]]:
    """Runs layers 1… of the MLP on the hidden units of layer 0, unit by unit.

    `first_layer` holds layer 0's pre-activations, one array per unit. Each
    later unit is written as a sum of products of whole arrays, so XLA fuses
    the network into one elementwise loop instead of tiny matrix products
    over a materialised (N, width) tensor — the memory-bound case of the
    tradeoffs paper §4.2. Worth it for widths up to about 8.
    """
    layers = num_layers(params)
    if layers == 1:
        return list(first_layer)
    units = [jax.nn.relu(h) for h in first_layer]
    for i in range(1, layers):
        w, b = params[f"w{i}"], params[f"b{i}"]
        units = [b[k] + sum(units[j] * w[j, k] for j in range(w.shape[0])) for k in range(w.shape[1])]
        if i < layers - 1:
            units = [jax.nn.relu(u) for u in units]
    return units


def init_grouped_mlp(key: jax.Array, groups, hidden_size: int, num_outputs: int = 3) -> dict:
    """Parameters of a 2-hidden-layer MLP whose first layer is split by input group.

    {"w0": {group: (width, H)}, "b0", "w1", "b1", "w2", "b2"} — VeLO's per-parameter
    MLP as haiku builds it (and Celo's, Celo2's): every first-layer block drawn
    with the fan-in of all channels, later layers with H; biases zero.
    """
    keys = iter(jax.random.split(key, len(groups) + 2))
    h = hidden_size

    def weight(n_in, n_out, fan_in):
        return jax.random.truncated_normal(next(keys), -2, 2, (n_in, n_out), jnp.float32) / jnp.sqrt(fan_in)

    total = sum(width for _, width in groups)
    return {
        "w0": {name: weight(width, h, total) for name, width in groups},
        "b0": jnp.zeros((h,), jnp.float32), "w1": weight(h, h, h), "b1": jnp.zeros((h,), jnp.float32),
        "w2": weight(h, num_outputs, h), "b2": jnp.zeros((num_outputs,), jnp.float32),
    }


def apply_mlp_to_channels(
    params: dict[str, Array], channels: list[Float[Array, "*shape"]]
) -> list[Float[Array, "*shape"]]:
    """The MLP's outputs on per-element channels (one array each), fused: `params["w0"]` is (len(channels), H)."""
    w0 = params["w0"]
    first = [params["b0"][j] + sum(c * w0[i, j] for i, c in enumerate(channels)) for j in range(w0.shape[1])]
    return apply_mlp_elementwise(params, first)
