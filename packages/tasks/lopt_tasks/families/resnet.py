"""Residual image classifiers (VeLO §3.2 model family "ResNets"), with batch norm.

Reference: tasks/parametric/image_resnet.py and tasks/resnet.py. The
architecture follows the reference's facts: an initial convolution (kernel
3, 5 or 7, stride 1 or 2, no bias) with batch norm, activation and an
optional 3×3/2 max pool; four groups of bottleneck v1 blocks (1×1 conv to a
quarter of the channels, 3×3 conv with the group's stride, 1×1 conv back,
batch norm after each, the last one's scale initialised at zero) with group
strides 1, 2, 2, 2 and a projection shortcut at each group's first block;
a spatial mean; logits from a zero-initialised linear layer (so every
sampled ResNet starts at exactly ln(#classes)). Batch norm uses batch
statistics (training mode), decay 0.9, eps 1e-5; its moving averages are
the model state.

Sampled as the reference: a maximum blocks-per-group log-uniform on
[1, 10) and each group's block count log-uniform on [1, that); a channel
pattern from (1,1,1,1), (1,2,4,8), (1,2,2,4), (1,2,2,2), (1,2,4,4) times a
width log-uniform on [8, 256); initial channels [8, 64); image size [8, 64);
batch size [4, 256); the activation. Differences: the sampled activation is
used in every block (the reference applies it only after the initial
convolution, using relu elsewhere), and convolutions use the normal
variance-scaling initialiser with the sampled scale (a value; the
reference uses haiku's default, i.e. scale 1).
Defaults here: "digits" at 8×8, at most 2 blocks per group, width [8, 16),
initial channels [4, 16), batch [4, 32).
"""

import dataclasses

import haiku as hk
import jax.numpy as jnp

from lopt_tasks.families.common import ACTIVATION_CHOICES, ACTIVATIONS, InitScaleFamily, SampledImageTask, initializer
from lopt_tasks.families.image import DEFAULT_IMAGE_DATASETS, REFERENCE_IMAGE_DATASETS, sample_image_data
from lopt_tasks.image_task import ImageClassificationTask, ImageData
from lopt_tasks.sampling import choice, log_int, numpy_rng

CHANNEL_PATTERNS = ((1, 1, 1, 1), (1, 2, 4, 8), (1, 2, 2, 4), (1, 2, 2, 2), (1, 2, 4, 4))
GROUP_STRIDES = (1, 2, 2, 2)


@dataclasses.dataclass(frozen=True)
class ResNetStructure:
    image_data: ImageData
    blocks_per_group: tuple[int, int, int, int]
    channels_per_group: tuple[int, int, int, int]
    initial_channels: int
    initial_kernel: int
    initial_stride: int
    max_pool: bool
    activation: str


def _batch_norm(name, zero_scale=False):
    return hk.BatchNorm(
        create_scale=True, create_offset=True, decay_rate=0.9, eps=1e-5, name=name,
        scale_init=hk.initializers.Constant(0.0) if zero_scale else None,
    )  # fmt: skip


@dataclasses.dataclass(frozen=True)
class ResNetTask(SampledImageTask, ImageClassificationTask):
    structure: ResNetStructure

    @property
    def name(self) -> str:
        s = self.structure
        return f"resnet_{s.image_data.dataset}_{'-'.join(map(str, s.blocks_per_group))}_{s.channels_per_group[0]}_{s.activation}"

    def _conv(self, channels, kernel, stride, name):
        w_init = initializer("variance_normal", self.init_scale)
        return hk.Conv2D(channels, kernel, stride=stride, with_bias=False, w_init=w_init, name=name)

    def _block(self, x, channels, stride, project, name):
        act = ACTIVATIONS[self.structure.activation]
        shortcut = x
        if project:
            shortcut = self._conv(channels, 1, stride, f"{name}_shortcut_conv")(x)
            shortcut = _batch_norm(f"{name}_shortcut_bn")(shortcut, is_training=True)
        inner = max(1, channels // 4)
        out = act(_batch_norm(f"{name}_bn0")(self._conv(inner, 1, 1, f"{name}_conv0")(x), is_training=True))
        out = act(_batch_norm(f"{name}_bn1")(self._conv(inner, 3, stride, f"{name}_conv1")(out), is_training=True))
        out = _batch_norm(f"{name}_bn2", zero_scale=True)(self._conv(channels, 1, 1, f"{name}_conv2")(out), is_training=True)
        return act(out + shortcut)

    def logits(self, images):
        s = self.structure
        act = ACTIVATIONS[s.activation]
        x = self._conv(s.initial_channels, s.initial_kernel, s.initial_stride, "initial_conv")(images)
        x = act(_batch_norm("initial_bn")(x, is_training=True))
        if s.max_pool:
            x = hk.max_pool(x, window_shape=(1, 3, 3, 1), strides=(1, 2, 2, 1), padding="SAME")
        for g, (blocks, channels, stride) in enumerate(zip(s.blocks_per_group, s.channels_per_group, GROUP_STRIDES)):
            for b in range(blocks):
                x = self._block(x, channels, stride if b == 0 else 1, b == 0, f"group{g}_block{b}")
        return hk.Linear(s.image_data.num_classes, w_init=jnp.zeros, name="logits")(jnp.mean(x, axis=(1, 2)))


@dataclasses.dataclass(frozen=True)
class ResNetFamily(InitScaleFamily):
    """ResNet classifiers; ranges are [low, high) for log-uniform draws, tuples of options otherwise."""

    task_type = ResNetTask

    datasets: tuple[str, ...] = DEFAULT_IMAGE_DATASETS
    batch_sizes: tuple[int, int] = (4, 32)
    image_sizes: tuple[int, int] | None = None
    max_blocks_per_group: tuple[int, int] = (1, 4)
    widths: tuple[int, int] = (8, 16)
    initial_channels: tuple[int, int] = (4, 16)
    activations: tuple[str, ...] = ACTIVATION_CHOICES
    data_dir: str | None = None

    @classmethod
    def reference(cls, datasets=REFERENCE_IMAGE_DATASETS, data_dir=None) -> "ResNetFamily":
        return cls(datasets, (4, 256), (8, 64), (1, 10), (8, 256), (8, 64), data_dir=data_dir)

    @property
    def name(self) -> str:
        return "resnet"

    def sample_structure(self, key):
        rng = numpy_rng(key)
        most = log_int(rng, *self.max_blocks_per_group)
        blocks = tuple(log_int(rng, 1, most) for _ in range(4))
        pattern = choice(rng, CHANNEL_PATTERNS)
        width = log_int(rng, *self.widths)
        return ResNetStructure(
            blocks_per_group=blocks,
            channels_per_group=tuple(width * p for p in pattern),
            initial_kernel=int(choice(rng, (3, 5, 7))),
            initial_channels=log_int(rng, *self.initial_channels),
            initial_stride=int(choice(rng, (1, 2))),
            max_pool=bool(choice(rng, (True, False))),
            image_data=sample_image_data(rng, self.datasets, self.batch_sizes, self.image_sizes),
            activation=choice(rng, self.activations),
        )
