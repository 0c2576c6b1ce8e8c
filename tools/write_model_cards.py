"""Writes the model card (README.md) of every registry entry, or checks that each is current.

    bazel run //tools:write_model_cards                  # every entry of this checkout's registry
    bazel run //tools:write_model_cards -- --check       # exit 1 naming the entries whose card is stale

`tools/register_pretrained` writes the card of each entry it writes; this
rewrites them all after a change to `model_card.py` or to an entry's files.
"""

import os

import lopt_pretrained
from absl import app, flags

import common_flags
import model_card

_REGISTRY = flags.DEFINE_string("registry", None, "Registry directory (default: this checkout's "
                                "packages/pretrained/lopt_pretrained/entries).")
_ENTRIES = flags.DEFINE_list("entries", None, "Entries to write (default: all).")
_CHECK = flags.DEFINE_bool("check", False, "Write nothing; fail if a card differs from what would be written.")

OWN_FLAGS = ("registry", "entries", "check")


def fail(message) -> None:
    common_flags.fail("write_model_cards", message)


def default_registry() -> str:
    root = os.environ.get("BUILD_WORKSPACE_DIRECTORY") or os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return os.path.join(root, "packages", "pretrained", "lopt_pretrained", "entries")


parse_flags = common_flags.flag_parser("write_model_cards", OWN_FLAGS)


def main(argv):
    if len(argv) > 1:
        fail(f"unexpected arguments {argv[1:]}")
    registry = _REGISTRY.value or default_registry()
    known = lopt_pretrained.names(registry)
    names = _ENTRIES.value or known
    unknown = sorted(set(names) - set(known))
    if unknown:
        fail(f"no entry {', '.join(unknown)} in {registry}; known: {', '.join(known) or '(none)'}")
    if _CHECK.value:
        stale = [name for name in names if not model_card.is_current(os.path.join(registry, name))]
        if stale:
            fail(f"stale or missing model cards: {', '.join(stale)} (bazel run //tools:write_model_cards)")
        print(f"{len(names)} model cards are current")
        return 0
    for name in names:
        print(f"wrote {model_card.write(os.path.join(registry, name))}")
    return 0


if __name__ == "__main__":
    app.run(main, flags_parser=parse_flags)
