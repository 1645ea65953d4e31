"""Batch scoring on Apache Spark (the ``spark`` extra): the implementation behind :mod:`runtime.spark`.

It sits on the runtime's core and nothing else (``tests/layering.py``): the bundle is verified by
:func:`runtime.load` on the driver and again on every Python worker, and each Arrow batch is checked
and predicted by ``Model.predict_batch``, so Spark gives the same answers, rejects and messages as a
gateway does. The modules:

- ``shipping``: read the bundle's files once on the driver, verify them there, broadcast the bytes;
  on a worker, write them to a private folder, verify and load them once per process (cached).
- ``schema``: Spark types against the manifest's columns, and the output schema.
- ``batches``: one Arrow record batch in, the same rows with predictions or reasons out.
- ``predict``: :func:`predict`, the public function, built on ``DataFrame.mapInArrow``.
- ``files``: Parquet in, Parquet out, for ``python -m runtime spark-predict``.

Nothing here imports pandas: rows go from Arrow to numpy directly.
"""
