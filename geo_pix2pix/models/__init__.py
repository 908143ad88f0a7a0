"""Generators and discriminators of the Pix2Pix family, built from frozen configs via a registry."""

from geo_pix2pix.models.registry import (
                       DiscriminatorConfig,
                       GeneratorConfig,
                       build_discriminator,
                       build_generator,
                       register_discriminator,
                       register_generator,
)

__all__ = ["GeneratorConfig", "DiscriminatorConfig", "build_generator", "build_discriminator",
           "register_generator", "register_discriminator"]
