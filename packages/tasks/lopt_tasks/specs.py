"""Task specs: the strings that name a task in results files, registry entries, suites and flags.

Three forms:

- `<task>`: a fixed task, `TASKS[task]` with its defaults (e.g. "digits_mlp");
- `<task>:<field>=<value>...`: that task with fields replaced, the tradeoffs
  paper's width, depth and batch-size axes (e.g.
  "digits_mlp:hidden_sizes=32x32:batch_size=32"; tuples of positive
  integers are written 32x32, an empty one as () or nothing);
- `family:<name>:<seed>`: the task that family `<name>` samples from
  `PRNGKey(seed)` (e.g. "family:mlp:1").

A spec is an identity: `task_from_spec(spec).name == spec` for the first two
forms, and the same spec gives the same task on every machine.
"""

import dataclasses

import jax

from lopt_tasks.base import Task
from lopt_tasks.registry import FAMILIES, TASKS, get_family, get_task

#: Fields a variant may not change: its identity and where its data lives.
FIXED_FIELDS = ("name", "data_dir")


class TaskSpecError(ValueError):
    """A task spec that does not name a task; the message says what is wrong and what is accepted."""


def _with_data_dir(obj, data_dir):
    if data_dir and dataclasses.is_dataclass(obj) and "data_dir" in {f.name for f in dataclasses.fields(obj)}:
        return dataclasses.replace(obj, data_dir=data_dir)
    return obj


def task_from_spec(spec: str, *, data_dir: str | None = None) -> Task:
    """The task `spec` names (see the module docstring); `data_dir` for tasks that read TensorFlow Datasets.

    Raises:
      TaskSpecError: an unknown task or family, a malformed spec, or a field or value a variant cannot take.
    """
    if spec.startswith("family:"):
        parts = spec.split(":")
        if len(parts) != 3 or not parts[2].isdigit():
            raise TaskSpecError(f"task {spec!r}: sampled tasks are family:<name>:<seed>, e.g. family:mlp:1")
        if parts[1] not in FAMILIES:
            raise TaskSpecError(f"unknown task family {parts[1]!r}; choices: {', '.join(sorted(FAMILIES))}")
        family = _with_data_dir(get_family(parts[1]), data_dir)
        return family.task(family.sample(jax.random.PRNGKey(int(parts[2]))))
    name, *overrides = spec.split(":")
    if name not in TASKS:
        raise TaskSpecError(f"unknown task {name!r}; choices: {', '.join(sorted(TASKS))}, or family:<name>:<seed>")
    task = _with_data_dir(get_task(name), data_dir)
    return task_variant(task, spec, overrides) if overrides else task


def _parse(spec: str, key: str, text: str, default):
    try:
        if isinstance(default, bool):
            if text not in ("true", "false"):
                raise ValueError
            value = text == "true"
        elif isinstance(default, (int, float, str)):
            value = type(default)(text)
        elif isinstance(default, tuple) or default is None:
            value = tuple(int(part) for part in text.split("x")) if text not in ("", "()") else ()
        else:
            raise ValueError
        if any(isinstance(v, int) and not isinstance(v, bool) and v < 1
               for v in (value if isinstance(value, tuple) else (value,))):
            raise ValueError
    except ValueError:
        raise TaskSpecError(f"task {spec!r}: cannot read {key}={text!r} like {key}'s default {default!r} "
                            "(positive integers; tuples of them are written 32x32)") from None
    return value


def task_variant(task: Task, spec: str, overrides: list[str]) -> Task:
    """`task` with fields replaced from `field=value` items; its name becomes `spec`."""
    fields = {f.name: getattr(task, f.name) for f in dataclasses.fields(task) if f.name not in FIXED_FIELDS}
    changes = {}
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep or key not in fields:
            raise TaskSpecError(f"task {spec!r}: {item!r} is not field=value with a field of {task.name}: "
                                f"{', '.join(sorted(fields))}")
        changes[key] = _parse(spec, key, text, fields[key])
    try:
        return dataclasses.replace(task, name=spec, **changes)
    except (TypeError, ValueError) as e:
        raise TaskSpecError(f"task {spec!r}: {e}") from None
