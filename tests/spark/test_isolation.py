"""Spark stays optional: ``import runtime``, load and predict never import pyspark, py4j, pyarrow or the
Spark adapter (the source-level rule is a row of tests/layering.py), and ``runtime.spark`` itself
brings no training-side library of ours."""

from __future__ import annotations

from tests.probes import modules_after

SPARK_SIDE = ("pyspark", "py4j", "pyarrow", "runtime.spark", "runtime._spark")

PROBE = """
import sys
import runtime
model = runtime.load(sys.argv[1])
model.predict_batch([{"temperature": 200.0, "pressure": 50.0, "speed": 100.0, "humidity": 40.0,
                      "vibration": 1.0, "machine_type": "A", "shift": "day"}])
"""


def test_plain_runtime_imports_nothing_of_spark(shipped_bundle):
    probe = modules_after(PROBE, SPARK_SIDE, argv=[str(shipped_bundle)])
    assert probe.returncode == 0, probe.stderr
    assert probe.modules == ()


def test_the_spark_module_imports_no_training_side_library():
    probe = modules_after("import runtime.spark", ("sklearn", "scipy", "joblib", "skl2onnx", "onnx", "export"))
    assert probe.returncode == 0, probe.stderr
    assert probe.modules == ()
