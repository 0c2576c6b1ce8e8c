"""lopt_pretrained: meta-parameters of learned optimizers, and conversion from the reference.

    import lopt_pretrained
    theta = lopt_pretrained.from_reference("small_fc_lopt", reference_tree)
"""

from importlib import resources as _resources

from lopt_pretrained.reference import from_reference, to_reference

__version__ = _resources.files(__name__).joinpath("VERSION").read_text().strip()

__all__ = ["from_reference", "to_reference"]
