"""Batch scoring on Apache Spark with the same bundle and guarantees as a device (the ``spark`` extra).

>>> import runtime.spark
>>> scored = runtime.spark.predict(spark.read.parquet("history.parquet"), "models/quality")  # doctest: +SKIP

``import runtime`` never imports this module or pyspark; see :func:`predict`.
"""

from __future__ import annotations

try:
    import pyarrow  # noqa: F401
    import pyspark  # noqa: F401
except ImportError as error:  # pragma: no cover - exercised by the install without the extra
    raise ImportError(f'runtime.spark needs the "spark" extra: pip install ".[spark]" ({error})') from None

from ._spark.predict import predict

__all__ = ["predict"]
