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
forms, and the same spec gives the same task on every machine. `spec_of(task)`
is the inverse for fixed tasks and their variants; a family's sample does not
record its seed, so it has no inverse. The `field=value` items are read by
`lopt_tasks.overrides`, the parser the binaries' configuration flags share.
"""

import dataclasses

import jax

from lopt_tasks.base import Task
from lopt_tasks.overrides import OverrideError, UnreadableValue, overridable_fields, parse_overrides
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


def _read_value(key: str, text: str, default):
    """A spec's text for field `key`, typed like its `default`: true/false, a number or string, or 32x32."""
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
        raise ValueError(f"cannot read {key}={text!r} like {key}'s default {default!r} "
                         "(positive integers; tuples of them are written 32x32)") from None
    return value


def _write_value(value) -> str:
    """The text `_read_value` reads back as `value` (when a spec can hold it; `spec_of` checks)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return "x".join(str(v) for v in value) or "()"
    return str(value)


def task_variant(task: Task, spec: str, overrides: list[str]) -> Task:
    """`task` with fields replaced from `field=value` items; its name becomes `spec`."""
    fields = overridable_fields(task, exclude=FIXED_FIELDS)
    try:
        changes = parse_overrides(overrides, fields, _read_value)
    except UnreadableValue as e:
        raise TaskSpecError(f"task {spec!r}: {e}") from None
    except OverrideError as e:
        raise TaskSpecError(f"task {spec!r}: {e.item!r} is not field=value with a field of {task.name}: "
                            f"{', '.join(sorted(fields))}") from None
    try:
        return dataclasses.replace(task, name=spec, **changes)
    except (TypeError, ValueError) as e:
        raise TaskSpecError(f"task {spec!r}: {e}") from None


def spec_of(task: Task) -> str:
    """The spec that names `task`, the inverse of `task_from_spec`.

    `task_from_spec(spec_of(task), data_dir=task.data_dir)` is `task` with its
    name set to that spec, so `spec_of(task_from_spec(spec)) == spec` for a
    fixed task or a variant. A fixed task whose fields were replaced in code
    (`get_task("digits_mlp", batch_size=32)`) gets the variant spec listing
    the fields that differ from the registered task's, in field order
    ("digits_mlp:batch_size=32").

    Raises:
      TaskSpecError: `task` is neither a registered fixed task nor a variant
        of one (a family's sample does not record the seed it was drawn from,
        so only the `family:<name>:<seed>` it was built from names it; a
        wrapped task has no spec), or a field holds a value a spec cannot
        write.
    """
    name = getattr(task, "name", None)
    base = name.split(":")[0] if isinstance(name, str) else None
    if base not in TASKS or not dataclasses.is_dataclass(task):
        raise TaskSpecError(
            f"task {name!r} ({type(task).__name__}) is not a fixed task of lopt_tasks.TASKS or a variant of one, so "
            "no spec names it; a family's sample does not record its seed: name it by the family:<name>:<seed> "
            "it was built from")
    registered = overridable_fields(get_task(base), exclude=FIXED_FIELDS)
    changes = [f"{key}={_write_value(value)}"
               for key, value in overridable_fields(task, exclude=FIXED_FIELDS).items() if value != registered[key]]
    # The task's own name first: a variant's name is its spec, in the order the spec's author wrote.
    for candidate in dict.fromkeys([name, ":".join([base, *changes])]):
        try:
            if task_from_spec(candidate, data_dir=task.data_dir) == dataclasses.replace(task, name=candidate):
                return candidate
        except TaskSpecError:
            pass
    raise TaskSpecError(f"task {name!r} ({type(task).__name__}): no spec names it; {candidate!r} does not build "
                        "it (a field holds a value a spec cannot write, or the task is not of its registered class)")
