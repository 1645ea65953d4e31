"""What a bundle costs: the timing loop, the fresh-process probe the benchmarks share, and the budget."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import runtime
from export import BudgetError
from export._performance import (
    RUNTIME_PROBE,
    ProbeError,
    check_budget,
    measure,
    peak_rss_mib,
    probe_script,
    run_probe,
    time_calls,
    untimed_calls,
)

LATENCY = runtime.Latency(p50=20.0, p90=22.0, p99=40.0, calls=2000)
MEASURED = runtime.Performance(single_record_latency_us=LATENCY, peak_rss_mb=60.0)


def test_time_calls_cycles_through_the_inputs_from_the_offset():
    seen: list[int] = []
    timings: list[int] = []
    time_calls(seen.append, [0, 1, 2], 5, timings, offset=2)
    untimed_calls(seen.append, [7, 8], 3)
    assert seen == [2, 0, 1, 2, 0, 7, 8, 7]
    assert len(timings) == 5 and all(t >= 0 for t in timings)


def test_peak_rss_is_read_in_mib():
    assert 5 < peak_rss_mib() < 100_000


def test_a_probe_carries_its_own_memory_reader(tmp_path):
    report = run_probe(probe_script("print(json.dumps(sys.argv[1:]), flush=True)"), ["a", "b"], tmp_path)
    assert report["first_output"] == '["a", "b"]'
    assert 1 < report["peak_rss_mb"] < 1000
    assert 0 < report["in_process_s"] < report["cold_start_s"] < report["process_s"]
    # nothing of this project is imported to measure a process: the script is self-contained
    listed = subprocess.run(
        [sys.executable, "-c", probe_script("print(json.dumps(sorted(sys.modules)), flush=True)"), "x"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=True,
    ).stdout.splitlines()[0]
    assert not {"runtime", "export", "numpy"} & set(json.loads(listed))


def test_a_failing_probe_says_why(tmp_path):
    with pytest.raises(ProbeError, match=r"^probe process exited with 1: ValueError: no bundle$"):
        run_probe(probe_script('raise ValueError("no bundle")'), [], tmp_path)


def test_measure_a_bundle(tiny_export):
    pytest.importorskip("sklearn")
    performance = measure(tiny_export.bundle, tiny_export.manifest.golden_cases[0].inputs)
    assert performance.measured and performance.threads == 1 and performance.budget is None
    latency = performance.single_record_latency_us
    assert latency is not None and latency.calls == 2000 and 0 < latency.p50 <= latency.p90 <= latency.p99
    assert performance.peak_rss_mb is not None and 20 < performance.peak_rss_mb < 2000
    assert performance.load_and_first_prediction_s is not None and performance.load_and_first_prediction_s > 0
    assert performance.note.endswith("medians of 3 fresh processes for memory")


def test_the_runtime_probe_predicts_the_golden_case(tiny_export, tmp_path):
    case = tiny_export.manifest.golden_cases[0]
    report = run_probe(RUNTIME_PROBE, [str(tiny_export.bundle), json.dumps(dict(case.inputs))], tmp_path)
    assert json.loads(report["first_output"]) == pytest.approx(list(case.probabilities), abs=1e-9)


@pytest.mark.parametrize(
    ("memory", "latency", "budget"),
    [
        (None, None, runtime.Budget(None, None, met=False)),  # no budget given: nothing to meet
        (100.0, None, runtime.Budget(100.0, None, met=True)),
        (60.0, 20.0, runtime.Budget(60.0, 20.0, met=True)),  # exactly at the limit meets it
    ],
)
def test_a_budget_met(memory, latency, budget):
    assert check_budget(MEASURED, memory, latency) == budget


@pytest.mark.parametrize(
    ("memory", "latency", "miss"),
    [
        (50.0, None, "peak RSS 60.0 MiB exceeds the budget of 50.0 MiB by 10.0 MiB (20%)"),
        (None, 10.0, "single-record p50 latency 20.0 µs exceeds the budget of 10.0 µs by 10.0 µs (100%)"),
        (
            30.0,
            16.0,
            "peak RSS 60.0 MiB exceeds the budget of 30.0 MiB by 30.0 MiB (100%); "
            "single-record p50 latency 20.0 µs exceeds the budget of 16.0 µs by 4.0 µs (25%)",
        ),
    ],
)
def test_a_budget_missed(memory, latency, miss):
    with pytest.raises(BudgetError) as caught:
        check_budget(MEASURED, memory, latency)
    assert str(caught.value) == (
        f"the bundle misses the device budget: {miss}. Shrink the model (e.g. --param max_depth=10 or "
        "min_samples_leaf=5) or raise the budget; the current version was not changed."
    )


def test_a_budget_is_recorded_in_the_manifest_and_the_model_card(tmp_path):
    pytest.importorskip("sklearn")
    from export import ExportConfig, run_export
    from tests.export.conftest import TINY

    config = ExportConfig(output=tmp_path, **{**TINY, "measure": True}, max_memory_mb=100_000, max_latency_us=1_000_000)
    generous = run_export(config)
    assert generous.manifest.performance.budget == runtime.Budget(100_000, 1_000_000, met=True)
    card = (generous.bundle / "model_card.md").read_text()
    assert "met: peak RSS <= 100,000.0 MiB, p50 <= 1,000,000.0 µs" in card
    assert runtime.load(generous.bundle).manifest.performance == generous.manifest.performance
