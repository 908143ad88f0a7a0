"""The files a run leaves: the model file, checkpoints and the run directory, and the ONNX file's
contract and metadata (shared by ``geopix export``, which writes them, and the ONNX Runtime engine
and ``geopix info``, which read them)."""
