"""The geopix Processing provider: its setting, its algorithms and the outputs it writes."""

from __future__ import annotations

from typing import Any

from qgis.core import QgsProcessingProvider

from . import executable
from .algorithms import ALGORITHMS

#: The provider setting (Settings > Options > Processing > Providers > geopix).
SETTING = "GEOPIX_EXECUTABLE"


class GeopixProvider(QgsProcessingProvider):
    """The ``geopix`` group of the toolbox: each algorithm runs the user's geopix executable."""

    def id(self) -> str:
        return "geopix"

    def name(self) -> str:
        return "geopix"

    def longName(self) -> str:
        found = executable.check(executable.find_executable(self.executable_setting()))
        return f"geopix {found.version}" if found.ok else "geopix (not configured)"

    def load(self) -> bool:
        from processing.core.ProcessingConfig import ProcessingConfig, Setting

        ProcessingConfig.settingIcons[self.name()] = self.icon()
        ProcessingConfig.addSetting(Setting(
            self.name(), SETTING, f"geopix executable (empty: ${executable.ENV_VAR}, else geopix on PATH)", "",
            valuetype=Setting.FILE, validator=_validate))
        ProcessingConfig.readSettings()
        self.refreshAlgorithms()
        return True

    def unload(self) -> None:
        from processing.core.ProcessingConfig import ProcessingConfig

        ProcessingConfig.removeSetting(SETTING)

    def loadAlgorithms(self) -> None:
        for algorithm in ALGORITHMS:
            self.addAlgorithm(algorithm())

    def executable_setting(self) -> str | None:
        """The executable set in the options, or None (then the environment variable, then PATH)."""
        try:
            from processing.core.ProcessingConfig import ProcessingConfig
        except ImportError:  # Processing not loaded: no setting
            return None
        value = ProcessingConfig.getSetting(SETTING)
        return str(value) if value else None

    def supportsNonFileBasedOutput(self) -> bool:
        return False  # geopix writes files: a memory output would be nothing to hand it

    def defaultRasterFileExtension(self) -> str:
        return "tif"

    def supportedOutputRasterLayerExtensions(self) -> list[str]:
        return ["tif"]  # geopix writes Cloud Optimized GeoTIFFs


def _validate(value: Any) -> None:
    """A setting that names a geopix that does not run is refused with the reason."""
    if value:
        found = executable.check(executable.find_executable(str(value)))
        if not found.ok:
            raise ValueError(found.message)
