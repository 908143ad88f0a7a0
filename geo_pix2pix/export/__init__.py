"""Models other tools can run: a geopix generator as one ONNX graph with GIS metadata.

- :mod:`~geo_pix2pix.files.onnx_contract` (the file format, shared with the ONNX Runtime engine):
  the units at the graph's two ends (what Deepness and GeoDeep feed and read) and their maps to
  geopix's normalised units, and :mod:`~geo_pix2pix.files.onnx_metadata`: the clients' metadata
  keys and geopix's own, read back for translate and info;
- :mod:`.graph`: the module that is exported (the generator between those ends);
- :mod:`.onnx_export`: ``geopix export`` (refusals, the exporter, the check against torch).

ONNX Runtime runs the files in geopix through :class:`~geo_pix2pix.inference.onnx_engine.OnnxPredictor`.
"""

from geo_pix2pix.export.onnx_export import DEFAULT_OPSET, ExportConfig, ExportResult, export_onnx
from geo_pix2pix.files.onnx_contract import Contract

__all__ = ["Contract", "ExportConfig", "ExportResult", "export_onnx", "DEFAULT_OPSET"]
