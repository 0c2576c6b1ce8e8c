"""Which text a sampled language-model task uses: the dataset pools and `sample_text_data`.

The reference's pool is lm1b and Wikipedia at byte and 32k-subword level
(tasks/parametric/lm_rnn.py, lm_transformer.py); lopt has byte-level lm1b
and, offline, the "licenses" corpus. The task side (`TextData`,
`LanguageModelTask`, the folding of bytes into a sampled vocabulary) is
`lopt_tasks.text_task`, shared with the fixed tasks.
"""

from collections.abc import Sequence

import numpy as np

from lopt_tasks import datasets as lopt_datasets
from lopt_tasks.sampling import choice, log_int
from lopt_tasks.text_task import TextData

DEFAULT_TEXT_DATASETS = ("licenses",)
REFERENCE_TEXT_DATASETS = ("lm1b",)


def sample_text_data(
    rng: np.random.Generator,
    datasets: Sequence[str],
    batch_sizes: tuple[int, int],
    sequence_lengths: tuple[int, int],
) -> TextData:
    """A dataset uniformly from `datasets`; batch size and sequence length log-uniformly on their ranges."""
    unknown = [d for d in datasets if d not in lopt_datasets.TEXT_DATASETS]
    if unknown or not datasets:
        raise ValueError(
            f"language families: datasets {list(datasets)} must be a non-empty subset of {sorted(lopt_datasets.TEXT_DATASETS)}."
        )
    dataset = str(choice(rng, tuple(datasets)))
    return TextData(dataset, log_int(rng, *batch_sizes), log_int(rng, *sequence_lengths))
