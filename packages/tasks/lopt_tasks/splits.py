"""Which batch source a task's split name means: the one rule for held-out data.

A task's `datasets` hold the splits its data has: always "train", and
"valid" and/or "test" where the data has them (the offline digits and
license texts have only "test"). Training loops ask for "valid" when they
evaluate held-out loss — meta-training with a validation meta-loss
(`lopt_es`) and evaluation curves (`lopt_eval.runner`) — and for data
without a validation split the test split stands in for it. This module is
the only place that says so.
"""

from lopt_tasks.base import BatchSource, Task

#: For a split the data lacks, the split that stands in for it.
STAND_INS = {"valid": "test"}


def split_source(task: Task, split: str) -> BatchSource:
    """`task.datasets[split]`; for "valid", the "test" split when the data has no validation split.

    Raises:
      KeyError: naming the task, the split asked for and the splits it has.
    """
    datasets = task.datasets
    if split in datasets:
        return datasets[split]
    stand_in = STAND_INS.get(split)
    if stand_in in datasets:
        return datasets[stand_in]
    also = f" (nor {stand_in!r})" if stand_in else ""
    raise KeyError(f"task {task.name!r}: no {split!r} split{also}; it has {sorted(datasets)}.")
