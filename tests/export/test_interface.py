"""The interface guard and the version rule: another target under an existing name is refused, --major exports it."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

pd = pytest.importorskip("pandas")
pytest.importorskip("sklearn")

import runtime  # noqa: E402
from export import ExportConfig  # noqa: E402
from export._cli import main  # noqa: E402
from export._data import make_demo_data  # noqa: E402
from export._errors import InterfaceChangedError  # noqa: E402
from export._interface import bump_of, check_interface, default_name, next_version  # noqa: E402
from runtime._contract import ExitCode, read_current  # noqa: E402
from tests.export.conftest import TINY_ARGS  # noqa: E402


def _two_targets(tmp_path: Path) -> Path:
    """Demo data with a second target, ``scrap``: learnable from vibration, and not a copy of ``defect``."""
    frame = make_demo_data(400, seed=11)
    rng = np.random.default_rng(3)
    scrap = frame["vibration"].fillna(1.0).to_numpy() > 1.4
    frame["scrap"] = np.where(rng.random(len(frame)) < 0.1, ~scrap, scrap).astype(np.int64)
    path = tmp_path / "line3.csv"
    frame.to_csv(path, index=False)
    return path


def test_another_target_under_an_existing_name_is_refused_and_major_exports_it(tmp_path, capsys):
    data, output = _two_targets(tmp_path), tmp_path / "models"
    common = ["--data", str(data), "--output", str(output), "--name", "line3", *TINY_ARGS]
    assert main([*common, "--target", "defect"]) == ExitCode.OK
    capsys.readouterr()

    assert main([*common, "--target", "scrap"]) == ExitCode.INTERFACE_CHANGED == 13
    err = capsys.readouterr().err
    assert not any("training" in line for line in err.splitlines() if line.startswith("["))  # before any fit
    message = err[err.index("error: ") :].strip()
    assert message == (
        f"error: model 'line3' 1.0.0 (the version {output / 'line3' / 'CURRENT'} names) has another interface: "
        "input columns added: ['defect']; input columns removed: ['scrap']; target 'defect' -> 'scrap'. Its "
        "clients would break; nothing was trained. Pass --major to export 2.0.0 (a new major version announces the "
        "break: servers reload it, and refuse an interface change within a major version), or a new --name"
    )
    assert read_current(output / "line3") == "1.0.0" and sorted(p.name for p in (output / "line3").iterdir()) == [
        "1.0.0",
        "1.0.0.joblib",
        "CURRENT",
    ]

    assert main([*common, "--target", "scrap", "--major"]) == ExitCode.OK
    assert "exported line3 2.0.0 (binary_classification)" in capsys.readouterr().out
    assert read_current(output / "line3") == "2.0.0"
    assert runtime.load(output / "line3").manifest.target == "scrap"


@pytest.mark.slow  # three exports
def test_by_default_each_target_of_a_file_is_its_own_model(tmp_path, capsys):
    data, output = _two_targets(tmp_path), tmp_path / "models"
    for target in ("defect", "scrap", "defect"):
        assert main(["--data", str(data), "--target", target, "--output", str(output), *TINY_ARGS]) == ExitCode.OK
    capsys.readouterr()
    assert sorted(p.name for p in output.iterdir()) == ["line3-defect", "line3-scrap"]
    assert read_current(output / "line3-defect") == "1.0.1"  # the same interface retrained: a patch
    assert read_current(output / "line3-scrap") == "1.0.0"


def test_default_names():
    assert default_name(ExportConfig()) == "quality"
    assert default_name(ExportConfig(data=Path("ai4i2020.csv"), target="Machine failure")) == "ai4i2020-machine-failure"
    assert default_name(ExportConfig(data=Path("x.csv"), target="Torque [Nm]")) == "x-torque-nm"
    assert len(default_name(ExportConfig(data=Path("a" * 200 + ".csv"), target="y"))) == 128


def _column(manifest: runtime.Manifest, name: str) -> runtime.ColumnSpec:
    return next(column for column in manifest.inputs if column.name == name)


def _with_column(manifest: runtime.Manifest, name: str, **changes: object) -> runtime.Manifest:
    inputs = tuple(dataclasses.replace(c, **changes) if c.name == name else c for c in manifest.inputs)
    # the device graph's packed layout is built from the trained categories; a manifest with other
    # categories is a different export, so these synthetic ones carry no device graph
    return dataclasses.replace(manifest, inputs=inputs, device_graph=None)


def test_the_version_rule(tiny_export):
    current = tiny_export.manifest
    assert bump_of(current, current, major=False) == "patch"  # a retrain
    categories = (*(_column(current, "shift").categories or ()), "weekend")
    assert bump_of(current, _with_column(current, "shift", categories=categories), major=False) == "minor"
    assert bump_of(current, _with_column(current, "temperature", valid_range=(0.0, 400.0)), major=False) == "minor"
    fewer = _with_column(current, "shift", categories=("day",))
    assert bump_of(current, fewer, major=False) == "major"
    assert bump_of(current, dataclasses.replace(current, target="scrap"), major=False) == "major"
    assert bump_of(current, current, major=True) == "major"
    assert bump_of(None, current, major=False) == "patch"


@pytest.mark.parametrize(
    ("existing", "bump", "expected"),
    [
        ((), "major", "1.0.0"),
        (("1.0.0", "1.2.3"), "patch", "1.2.4"),
        (("1.2.3",), "minor", "1.3.0"),
        (("1.2.3",), "major", "2.0.0"),
    ],
)
def test_next_version_per_bump(tmp_path, existing, bump, expected):
    for name in existing:
        (tmp_path / name).mkdir()
    assert next_version(tmp_path, bump) == expected


def test_an_explicit_higher_major_version_may_change_the_interface(tiny_export, tmp_path):
    current = tiny_export.manifest
    changed = dataclasses.replace(current, target="scrap")
    check_interface(current, changed, major=False, version="2.0.0", model_folder=tmp_path)  # no error
    check_interface(current, changed, major=True, version=None, model_folder=tmp_path)
    with pytest.raises(InterfaceChangedError, match=r"has another interface: target 'defect' -> 'scrap'\. Its") as err:
        check_interface(current, changed, major=False, version="1.5.0", model_folder=tmp_path)
    with pytest.raises(InterfaceChangedError):
        check_interface(current, changed, major=False, version=None, model_folder=tmp_path)
    assert err.value.changes == ["target 'defect' -> 'scrap'"]
