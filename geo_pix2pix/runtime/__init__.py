"""Where and how geopix runs: devices and precision, torchrun processes, progress."""
