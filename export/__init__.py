"""factory-edge export stage: train a scikit-learn Pipeline, convert it to ONNX, prove parity, write a bundle.

Runs on the dev machine and needs the "export" extra: pip install ".[export]".
"""

from ._errors import ExportError, ParityError
from ._job import ExportConfig, ExportResult, run_export

__all__ = ["ExportConfig", "ExportError", "ExportResult", "ParityError", "run_export"]
