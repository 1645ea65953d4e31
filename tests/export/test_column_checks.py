"""Column checks before training: ID-like, constant, high-cardinality and leaking columns, each named with its fix."""

from __future__ import annotations

import shlex
from pathlib import Path

import numpy as np
import pytest

pd = pytest.importorskip("pandas")
pytest.importorskip("sklearn")

import runtime  # noqa: E402
from export import ExportConfig  # noqa: E402
from export._cli import main  # noqa: E402
from export._column_checks import Finding, check_columns, refuse_hard_findings  # noqa: E402
from export._data import make_demo_data, prepare_data  # noqa: E402
from export._errors import DataRefusedError  # noqa: E402
from runtime._contract import ExitCode  # noqa: E402
from tests.conftest import AI4I  # noqa: E402

needs_ai4i = pytest.mark.skipif(not AI4I.is_file(), reason="shared/datasets/ai4i2020.csv is not beside the repo")
AI4I_IDS = ("UDI", "Product ID")
AI4I_COMPONENTS = ("TWF", "HDF", "PWF", "OSF")


@needs_ai4i
def test_ai4i_without_drop_is_refused_before_training_naming_every_fix(tmp_path, capsys):
    output = tmp_path / "models"
    code = main(["--data", str(AI4I), "--target", "Machine failure", "--output", str(output), "--no-measure"])
    assert code == ExitCode.DATA_REFUSED == 12
    err = capsys.readouterr().err
    progress = [line for line in err.splitlines() if line.startswith("[")]
    assert not any("training" in line for line in progress), progress  # refused before any fit
    refused = err[err.index("error: ") :].splitlines()
    assert refused[0].startswith("error: the column checks refuse this data: 6 column(s) would make a model of")
    by_column = {line.split(":")[0].strip(): line for line in refused[1:] if line.startswith("  '")}
    assert "ID-like: 10,000 distinct values in 10,000 rows, rising in every row: a row counter" in by_column["'UDI'"]
    assert "ID-like: 10,000 distinct values in 10,000 rows (named like an identifier)" in by_column["'Product ID'"]
    for column in AI4I_IDS + AI4I_COMPONENTS:
        assert by_column[repr(column)].endswith(f"-> --drop {shlex.quote(column)}")
    assert "HDF == 1 in 115 rows and 'Machine failure' == 1 in all of them" in by_column["'HDF'"]
    # RNF (random failures: 19 ones, 1 of them a machine failure) is not a component, but its family: a warning
    assert refused[refused.index("  warnings:") + 1].startswith("    'RNF': a 0/1 flag (19 ones) as rare as")
    assert refused[-1] == (
        "fix: --drop UDI 'Product ID' TWF HDF PWF OSF RNF  (or keep a column on purpose with --allow-column NAME)"
    )
    assert not output.exists()  # nothing was trained or written


def _data(frame: pd.DataFrame, target: str, *, regression: bool = False, tmp_path: Path) -> object:
    path = tmp_path / "table.parquet"
    frame.to_parquet(path)
    return prepare_data(ExportConfig(data=path, target=target, task="regression" if regression else None))


def _demo(rows: int = 400) -> pd.DataFrame:
    return make_demo_data(rows, seed=5)


def _kinds(findings: list[Finding]) -> dict[str, tuple[str, bool]]:
    return {finding.column: (finding.kind, finding.hard) for finding in findings}


def test_the_demo_data_has_nothing_to_object_to(tiny_data):
    assert check_columns(tiny_data) == []


def test_each_kind_of_finding(tmp_path):
    frame = _demo()
    rng = np.random.default_rng(0)
    frame["serial"] = [f"S-{i:05d}" for i in rng.permutation(len(frame))]  # unique text
    frame["row"] = np.arange(len(frame), dtype=np.int64)[::-1]  # a falling counter
    frame["plant"] = "north"  # constant
    frame["operator"] = [f"op{i % 80}" for i in range(len(frame))]  # 80 categories
    frame["machine_id"] = rng.choice(["m1", "m2", "m3"], len(frame))  # named like an id, few values
    frame["inspected_bad"] = frame["defect"].astype(float)  # the target itself, recorded later
    findings = check_columns(_data(frame, "defect", tmp_path=tmp_path))
    assert _kinds(findings) == {
        "row": ("id_like", True),
        "serial": ("id_like", True),
        "inspected_bad": ("leakage", True),
        "machine_id": ("id_name", False),
        "operator": ("high_cardinality", False),
        "plant": ("constant", False),
    }
    assert [f.column for f in findings][:3] == ["row", "serial", "inspected_bad"]  # hard ones first
    reasons = {f.column: f.reason for f in findings}
    assert reasons["row"] == "ID-like: 400 distinct values in 400 rows, falling in every row: a counter"
    assert "held-out balanced accuracy 1.0000 (a depth-6 tree" in reasons["inspected_bad"]
    assert reasons["plant"] == "constant: 'north' in all 400 rows; it teaches nothing"
    assert reasons["operator"].startswith("80 categories (more than 50)")
    assert findings[0].describe() == f"'row': {reasons['row']} -> --drop row"


def test_a_regressor_target_leaks_through_a_rescaled_copy(tmp_path):
    frame = _demo().dropna(subset=["pressure"]).reset_index(drop=True)
    frame["pressure_psi"] = frame["pressure"] * 14.5038
    findings = check_columns(_data(frame, "pressure", regression=True, tmp_path=tmp_path))
    assert _kinds(findings) == {"pressure_psi": ("leakage", True)}
    assert "with held-out R² 0.9" in findings[0].reason


def test_an_allowed_hard_finding_is_kept_and_does_not_refuse(tmp_path):
    frame = _demo()
    frame["row"] = np.arange(len(frame), dtype=np.int64)
    data = _data(frame, "defect", tmp_path=tmp_path)
    with pytest.raises(DataRefusedError, match="^the column checks refuse this data: 1 column") as caught:
        refuse_hard_findings(check_columns(data), "defect")
    assert [f.column for f in caught.value.findings] == ["row"]
    kept = check_columns(data, allowed=["row"])
    refuse_hard_findings(kept, "defect")  # no error
    assert kept[0].allowed and kept[0].describe().endswith("-> --drop row (kept: --allow-column row)")


def test_warnings_and_valid_ranges_are_on_the_console_and_in_the_documents(tmp_path, capsys):
    from tests.export.conftest import TINY_ARGS

    frame = _demo()
    frame["row"] = np.arange(len(frame), dtype=np.int64)
    frame["plant"] = "north"
    path = tmp_path / "line.csv"
    frame.to_csv(path, index=False)
    argv = ["--data", str(path), "--target", "defect", "--output", str(tmp_path / "models"), *TINY_ARGS]
    assert main(argv) == ExitCode.DATA_REFUSED
    assert "'row': ID-like" in capsys.readouterr().err
    assert main([*argv, "--allow-column", "row", "--range-margin", "0.25"]) == ExitCode.OK
    out = capsys.readouterr().out
    ranges = out[out.index("  valid ranges") :].splitlines()
    manifest = runtime.load(tmp_path / "models" / "line-defect").manifest
    # every number column's range, from the data widened by 25% of its span
    assert f"    row: [0, {399 * 1.25:.6g}] (training data min/max widened by 25% of the span, not below 0)" in ranges
    assert manifest.column("row").range_source == "training data min/max widened by 25% of the span, not below 0"
    low, high = manifest.column("temperature").valid_range or (0.0, 0.0)
    assert f"    temperature: [{low:.6g}, {high:.6g}] (training data min/max widened by 25% of the span)" in ranges
    assert len([line for line in ranges if line.startswith("    ") and ": [" in line]) == 6  # 5 sensors, the counter
    assert "  warning: 'row': ID-like: 400 distinct values in 400 rows, rising in every row" in out
    assert "(kept: --allow-column row)" in out and "  warning: 'plant': constant" in out
    card = (tmp_path / "models" / "line-defect" / "1.0.0" / "model_card.md").read_text(encoding="utf-8")
    assert "--drop plant" in card and "--allow-column row" in card


def test_a_long_check_says_how_far_it_got(tiny_data, monkeypatch):
    import export._column_checks as checks

    monkeypatch.setattr(checks, "PROGRESS_EVERY_S", 0.0)
    said: list[str] = []
    check_columns(tiny_data, progress=said.append)
    columns = len(tiny_data.spec.features)
    assert said == [f"column checks: {columns} columns (ID-like, constant, cardinality, leakage)"] + [
        f"column checks: {done} of {columns} columns checked" for done in range(1, columns)
    ]
