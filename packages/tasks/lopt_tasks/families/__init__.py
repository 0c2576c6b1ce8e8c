"""Sampled task families (VeLO §3.2): model family, dataset, widths, depth, activation, ...

`FAMILIES` maps a family's name to its constructor; every constructor's
defaults fit a 2-core CPU (offline datasets, small widths, steps of
milliseconds) and its `reference()` classmethod gives the reference's
ranges on the tfds datasets (tasks/parametric/*.py of google/learned_optimization).
`TinyDigitsFamily` and `TinyTextFamily` (not in `FAMILIES`, which holds
VeLO's model families) are a Celo-style meta-training distribution rebuilt
from what is on disk: tiny MLPs on the 8×8 digits, and tiny context-window
MLP language models on the on-disk text.
"""

from collections.abc import Callable

from lopt_tasks.base import TaskFamily
from lopt_tasks.families.autoencoder import AutoencoderFamily
from lopt_tasks.families.conv import ImageConvFamily
from lopt_tasks.families.mlp import ImageMLPFamily
from lopt_tasks.families.resnet import ResNetFamily
from lopt_tasks.families.rnn_lm import RNNLMFamily
from lopt_tasks.families.tiny_digits import TinyDigitsFamily, TinyDigitsTask
from lopt_tasks.families.tiny_text import TinyTextFamily, TinyTextTask
from lopt_tasks.families.transformer_lm import TransformerLMFamily
from lopt_tasks.families.vae import VAEFamily
from lopt_tasks.families.vit import ViTFamily

FAMILIES: dict[str, Callable[..., TaskFamily]] = {
    "mlp": ImageMLPFamily,
    "conv": ImageConvFamily,
    "resnet": ResNetFamily,
    "vit": ViTFamily,
    "transformer_lm": TransformerLMFamily,
    "rnn_lm": RNNLMFamily,
    "autoencoder": AutoencoderFamily,
    "vae": VAEFamily,
}

__all__ = [
    "FAMILIES",
    "AutoencoderFamily",
    "ImageConvFamily",
    "ImageMLPFamily",
    "RNNLMFamily",
    "TinyDigitsFamily",
    "TinyDigitsTask",
    "TinyTextFamily",
    "TinyTextTask",
    "ResNetFamily",
    "TransformerLMFamily",
    "VAEFamily",
    "ViTFamily",
]
