"""Model families: Pix2Pix and its relatives, each one module plus a line in the registry.

A family (:class:`~geo_pix2pix.families.base.Family`) owns what differs between members of the
Pix2Pix family: its generator (and that generator's frozen config, which the model file records),
its discriminator(s), its own training options, its recipes (named sets of defaults), what it adds
to the GAN step (how G draws a batch, its own generator loss terms) and the batches it trains on.
The training loop, the GAN step, model files, translate and evaluate only talk to that interface,
so a new family is a new module and a line in :data:`~geo_pix2pix.families.registry.FAMILIES`
(``docs/contributing/families.md``). :mod:`~geo_pix2pix.families.multiscale` is the base of the
families trained against multi-scale discriminators (pix2pixhd, spade, inpaint).
"""
