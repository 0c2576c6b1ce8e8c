"""`field=value` overrides of a frozen dataclass: the one parser behind task specs and `--lopt_config`.

A task spec's `<task>:<field>=<value>...` (`lopt_tasks.specs`) and
`tools/meta_train --lopt_config=<field>=<value>,...` (a learned optimizer's
configuration) both replace fields of a frozen dataclass by values typed like
the fields' defaults. Splitting an item at its first "=", checking the field
exists and reading the value happen here once; each grammar passes its own
value reader (task specs write `32x32` and `true`, the flag Python literals)
and words its own errors from the `OverrideError` raised here.

It lives in lopt_tasks although lopt_architectures' configurations are its
other user: task specs need it and lopt_tasks depends on no other lopt
package, so every binary can share it without a dependency between
architectures and tasks. lopt_architectures itself never reads strings;
flags are parsed at the binary.
"""

import dataclasses
from collections.abc import Callable, Iterable
from typing import Any


class OverrideError(ValueError):
    """An override that cannot be applied; `item` is the `field=value` text as given."""

    def __init__(self, message: str, item: str):
        super().__init__(message)
        self.item = item


class NotKeyValue(OverrideError):
    """An item without "="."""


class UnknownField(OverrideError):
    """`key` is not one of `fields` (sorted), the fields an override may set."""

    def __init__(self, message: str, item: str, key: str, fields: tuple[str, ...]):
        super().__init__(message, item)
        self.key, self.fields = key, fields


class UnreadableValue(OverrideError):
    """The reader refused `text` for `key`; the message is the reader's."""

    def __init__(self, message: str, item: str, key: str, text: str):
        super().__init__(message, item)
        self.key, self.text = key, text


def overridable_fields(obj, exclude: Iterable[str] = ()) -> dict[str, Any]:
    """The fields of dataclass instance `obj` an override may set (its `__init__` fields not in `exclude`) → values."""
    excluded = set(exclude)
    return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj) if f.init and f.name not in excluded}


def parse_overrides(items: Iterable[str], defaults: dict[str, Any],
                    read: Callable[[str, str, Any], Any]) -> dict[str, Any]:
    """`field=value` items → {field: value}, each value `read(field, text, default)` with `defaults[field]`.

    Items are read in order; a later item for the same field wins.

    Raises (at the first bad item):
      NotKeyValue: an item has no "=".
      UnknownField: an item's field is not a key of `defaults`.
      UnreadableValue: `read` raised ValueError; the message is `read`'s.
    """
    fields = tuple(sorted(defaults))
    values = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep:
            raise NotKeyValue(f"{item!r} is not field=value", item)
        if key not in defaults:
            raise UnknownField(f"{key!r} is not one of the fields {', '.join(fields)}", item, key, fields)
        try:
            values[key] = read(key, text, defaults[key])
        except ValueError as e:
            raise UnreadableValue(str(e), item, key, text) from None
    return values
