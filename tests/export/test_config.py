"""ExportConfig: the defaults are defined once (the command line reads them), and the record the joblib
twin carries rebuilds the same config."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from export._config import DEFAULT_ESTIMATORS, ExportConfig, config_from_record, config_record


def test_the_command_line_defaults_are_exportconfigs():
    from export._cli import _export_parser

    args = _export_parser().parse_args([])
    defaults = ExportConfig()
    for field in dataclasses.fields(ExportConfig):
        if hasattr(args, field.name):
            value = getattr(args, field.name)
            expected = getattr(defaults, field.name)
            assert (tuple(value) if isinstance(value, list) else value) == expected, field.name
    assert args.no_measure is (not defaults.measure)
    assert args.param == [] and defaults.params == {}


def test_help_shows_the_defaults_of_exportconfig(capsys):
    from export._cli import main

    assert main(["--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    defaults = ExportConfig()
    for shown in (
        f"rows of demo data (default {defaults.demo_rows})",
        f"random seed (default {defaults.seed})",
        f"held-out share (default {defaults.test_size})",
        f"models folder (default {defaults.output})",
        f"joblib compression level (default {defaults.compress})",
        f"(default {DEFAULT_ESTIMATORS['binary_classification']} for classes, "
        f"{DEFAULT_ESTIMATORS['regression']} for numbers",
    ):
        assert shown in text


def test_the_record_round_trips_and_ignores_unknown_keys():
    config = ExportConfig(
        data=Path("line3.csv"), target="defect", drop=("id", "serial"), schema=Path("s.json"), params={"max_depth": 8}
    )
    record = config_record(config)
    assert record["data"] == "line3.csv" and record["drop"] == ["id", "serial"]
    assert config_from_record({**record, "a_field_of_a_newer_export": 1}) == config


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"pipeline": "mod:factory", "estimator": "ridge"},
            "--pipeline replaces --estimator and --param; pass one or the other",
        ),
        ({"pipeline": "mod:factory", "params": {"max_depth": 3}}, "--pipeline replaces --estimator and --param"),
        (
            {"measure": False, "max_latency_us": 50.0},
            "a device budget (--max-memory-mb, --max-latency-us) needs the measurements: drop --no-measure",
        ),
    ],
)
def test_options_that_cannot_work_together(changes, message):
    from export import ExportError
    from export._config import check_options

    with pytest.raises(ExportError) as caught:
        check_options(dataclasses.replace(ExportConfig(), **changes))
    assert str(caught.value).startswith(message)


def test_every_option_reaches_exportconfig():
    pytest.importorskip("sklearn")
    from export._cli import _config, _export_parser

    argv = "--data d.csv --target y --numeric a --categorical b c --drop id --schema s.json --demo-rows 10 "
    argv += "--estimator ridge --param alpha=2 --pipeline m:f --tune --seed 7 --test-size 0.3 --output out "
    argv += (
        "--name n --version 2.0.0 --description text --compress 9 --no-measure --max-memory-mb 50 --max-latency-us 20"
    )
    expected = ExportConfig(
        data=Path("d.csv"),
        target="y",
        numeric=("a",),
        categorical=("b", "c"),
        drop=("id",),
        schema=Path("s.json"),
        estimator="ridge",
        params={"alpha": 2},
        pipeline="m:f",
        tune=True,
        name="n",
        version="2.0.0",
        output=Path("out"),
        seed=7,
        test_size=0.3,
        compress=9,
        demo_rows=10,
        description="text",
        measure=False,
        max_memory_mb=50.0,
        max_latency_us=20.0,
    )
    assert _config(_export_parser().parse_args(argv.split())) == expected
