"""The model families geopix knows, by name: the one list a new family is added to.

Each entry names the module attribute holding the family's
:class:`~geo_pix2pix.families.base.Family` instance, imported on first use
(:func:`~geo_pix2pix.families.base.get_family`). This module imports nothing, so the training
config can offer the names as ``--family``'s choices without loading a family, and no family
module can form an import cycle through it.
"""

#: family name -> ``module:attribute`` of its Family instance (a dict: tests and plugins add theirs).
FAMILIES: dict[str, str] = {
    "pix2pix": "geo_pix2pix.families.pix2pix:FAMILY",
    "pix2pixhd": "geo_pix2pix.families.pix2pixhd:FAMILY",
    "spade": "geo_pix2pix.families.spade:FAMILY",
    "inpaint": "geo_pix2pix.families.inpaint:FAMILY",
}
