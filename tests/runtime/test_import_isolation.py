"""The device needs only numpy and onnxruntime: proven in a fresh interpreter (the source-level rule is
one row of tests/layering.py's table)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.probes import modules_after

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = ("sklearn", "scipy", "pandas", "joblib", "skl2onnx", "onnx")

PROBE = """
import json, sys
import runtime
model = runtime.load(sys.argv[1])
example = json.load(open(sys.argv[2], encoding="utf-8"))
single = model.predict(example)
batch = model.predict_batch([example] * 5)
expected = json.load(open(sys.argv[3], encoding="utf-8"))
print(json.dumps({"label": single.label, "expected": expected["label"], "batch": len(batch)}))
"""


def test_load_and_predict_import_nothing_heavy(shipped_bundle):
    version = shipped_bundle / "1.0.0"
    probe = modules_after(
        PROBE,
        [*FORBIDDEN, "export"],
        argv=[str(shipped_bundle), str(version / "example_input.json"), str(version / "example_output.json")],
    )
    assert probe.returncode == 0, probe.stderr
    assert probe.modules == ()
    report = json.loads(probe.stdout)
    assert report["batch"] == 5
    assert report["label"] == report["expected"]


# Measured costs of a device process (benchmarks/reports/device_imports.md): tempfile brings shutil,
# bz2, lzma and random, about 1 MiB and a few ms, and only writing CURRENT needs it.
NOT_ON_THE_DEVICE_PATH = ("tempfile", "shutil", "bz2", "lzma", "random")


def test_load_and_predict_leave_out_the_stdlib_modules_they_do_not_need(shipped_bundle):
    version = shipped_bundle / "1.0.0"
    probe = modules_after(
        PROBE,
        NOT_ON_THE_DEVICE_PATH,
        argv=[str(shipped_bundle), str(version / "example_input.json"), str(version / "example_output.json")],
    )
    assert probe.returncode == 0, probe.stderr
    assert probe.modules == ()
