"""The QGIS plugin: it only registers the geopix Processing provider (no menus, no docks)."""

from __future__ import annotations

from typing import Any

from qgis.core import QgsApplication

from .provider import GeopixProvider


class GeopixProviderPlugin:
    """Adds the provider when QGIS (or ``qgis_process``) starts Processing, removes it on unload."""

    def __init__(self, iface: Any = None) -> None:
        self.iface = iface
        self.provider: GeopixProvider | None = None

    def initProcessing(self) -> None:
        if self.provider is None:
            self.provider = GeopixProvider()
            QgsApplication.processingRegistry().addProvider(self.provider)

    def initGui(self) -> None:
        self.initProcessing()

    def unload(self) -> None:
        if self.provider is not None:
            QgsApplication.processingRegistry().removeProvider(self.provider)
            self.provider = None
