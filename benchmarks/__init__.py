"""Benchmarks of a bundle against its scikit-learn twin: ``python -m benchmarks [PATH] [options]``.

Measures, in one run on one machine, single-record latency (runtime, bare onnxruntime,
scikit-learn), batch throughput at one thread and at all cores, cold start and peak memory of fresh
processes, and model file sizes and load times; then writes ``benchmark.json``, a Markdown report
with every target judged from ratios of this run, and charts. Needs the ``bench`` extra
(scikit-learn, pandas, joblib, matplotlib); importing this package needs none of them.

>>> from benchmarks import main
>>> main(["--quick", "models/quality"])  # doctest: +SKIP
0
"""

from ._cli import main

__all__ = ["main"]
