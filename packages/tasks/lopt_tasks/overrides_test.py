import dataclasses

import pytest

from lopt_tasks.overrides import NotKeyValue, UnknownField, UnreadableValue, overridable_fields, parse_overrides


@dataclasses.dataclass(frozen=True)
class Config:
    width: int = 4
    rate: float = 0.1
    label: str = "a"
    derived: int = dataclasses.field(default=0, init=False)


def read_int_like(key, text, default):
    if not text.isdigit():
        raise ValueError(f"{key}: {text!r} is not digits")
    return type(default)(text)


def test_fields_are_the_init_fields_not_excluded():
    assert overridable_fields(Config()) == {"width": 4, "rate": 0.1, "label": "a"}
    assert overridable_fields(Config(), exclude=("label",)) == {"width": 4, "rate": 0.1}


def test_items_are_read_by_the_reader_with_their_defaults_and_the_last_one_wins():
    seen = []

    def read(key, text, default):
        seen.append((key, text, default))
        return text * 2

    # The value is everything after the first "=", even when it holds another "=".
    values = parse_overrides(["width=3", "label=x=y", "width=5"], overridable_fields(Config()), read)
    assert values == {"width": "55", "label": "x=yx=y"}
    assert seen == [("width", "3", 4), ("label", "x=y", "a"), ("width", "5", 4)]
    assert parse_overrides([], overridable_fields(Config()), read) == {}


def test_errors_name_the_item_and_what_was_expected():
    fields = overridable_fields(Config())
    with pytest.raises(NotKeyValue, match="'width' is not field=value") as e:
        parse_overrides(["rate=2", "width"], fields, read_int_like)
    assert e.value.item == "width"
    with pytest.raises(UnknownField, match="'derived' is not one of the fields label, rate, width") as e:
        parse_overrides(["derived=1"], fields, read_int_like)
    assert (e.value.item, e.value.key, e.value.fields) == ("derived=1", "derived", ("label", "rate", "width"))
    with pytest.raises(UnreadableValue, match="^width: '3x' is not digits$") as e:
        parse_overrides(["width=3x"], fields, read_int_like)
    assert (e.value.item, e.value.key, e.value.text) == ("width=3x", "width", "3x")
    assert isinstance(e.value, ValueError)
