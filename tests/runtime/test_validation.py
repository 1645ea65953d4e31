"""Bad input, one record and in batches: each case with its exact message (STYLE 5, 11)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

import runtime

GOOD = {
    "temperature": 201.5,
    "pressure": 48.0,
    "speed": 101.0,
    "humidity": 45.0,
    "vibration": 0.8,
    "machine_type": "B",
    "shift": "night",
}
TEMPERATURE = "a finite number within [100.0, 300.0] or missing (None)"
MACHINE = "a string, one of ['A', 'B', 'C']"
RANGE_HINT = '(load with on_out_of_range="flag" to accept and flag it)'
SPEED_STRICT = "a finite number within [0.0, 200.0]"


@pytest.fixture(scope="module")
def model(shipped_bundle):
    return runtime.load(shipped_bundle)


@pytest.fixture(scope="module")
def strict_model(model):
    """The same graph with 'speed' declared not nullable, for the missing-number cases."""
    inputs = tuple(dataclasses.replace(c, nullable=False) if c.name == "speed" else c for c in model.manifest.inputs)
    manifest = dataclasses.replace(model.manifest, inputs=inputs)
    return runtime.Model(manifest, model._session, model.path, on_unknown="reject")


def with_(**changes):
    return {**GOOD, **changes}


SINGLE_CASES = [
    (
        "string in a number column",
        with_(temperature="201.5"),
        f"temperature == '201.5' has type str, must be {TEMPERATURE}: strings are not converted to numbers.",
    ),
    (
        "bool in a number column",
        with_(temperature=True),
        f"temperature == True has type bool, must be {TEMPERATURE}: booleans are not numbers here.",
    ),
    (
        "number in a category column",
        with_(machine_type=3),
        f"machine_type == 3 has type int, must be {MACHINE}: categories are matched as strings and numbers are not converted.",
    ),
    (
        "bool in a category column",
        with_(machine_type=False),
        f"machine_type == False has type bool, must be {MACHINE}: categories are matched as strings and numbers are not converted.",
    ),
    (
        "None where missing is not allowed",
        with_(machine_type=None),
        f"machine_type is missing (None), but the column does not allow missing values: must be {MACHINE}.",
    ),
    (
        "NaN where missing is not allowed",
        with_(machine_type=math.nan),
        f"machine_type is missing (nan), but the column does not allow missing values: must be {MACHINE}.",
    ),
    (
        "empty string where missing is not allowed",
        with_(machine_type=""),
        f"machine_type is missing (''), but the column does not allow missing values: must be {MACHINE}.",
    ),
    ("+inf", with_(temperature=math.inf), f"temperature == inf, must be {TEMPERATURE}."),
    ("-inf", with_(temperature=-math.inf), f"temperature == -inf, must be {TEMPERATURE}."),
    (
        "above the valid range",
        with_(temperature=412.0),
        "temperature == 412.0, must be within [100.0, 300.0] (valid range from the demo data's physical sensor limits) "
        f"{RANGE_HINT}.",
    ),
    (
        "below the valid range",
        with_(pressure=-1),
        "pressure == -1, must be within [0.0, 120.0] (valid range from the demo data's physical sensor limits) "
        f"{RANGE_HINT}.",
    ),
    (
        "unknown category",
        with_(machine_type="D"),
        "machine_type == 'D' is not a known category, must be one of ['A', 'B', 'C'] "
        '(load with on_unknown="flag" to accept and flag it).',
    ),
    (
        "object in a number column",
        with_(vibration=[0.8]),
        "vibration == [0.8] has type list, must be a finite number within [0.0, 20.0] or missing (None): list is not a number.",
    ),
]


@pytest.mark.parametrize(("record", "message"), [c[1:] for c in SINGLE_CASES], ids=[c[0] for c in SINGLE_CASES])
def test_bad_single_record(model, record, message):
    with pytest.raises(runtime.InputError) as caught:
        model.predict(record)
    assert str(caught.value) == message


@pytest.mark.parametrize(("record", "message"), [c[1:] for c in SINGLE_CASES], ids=[c[0] for c in SINGLE_CASES])
def test_bad_value_in_batch_names_the_row(model, record, message):
    with pytest.raises(runtime.InputError) as caught:
        model.predict_batch([GOOD, record, GOOD])
    # the batch message is the single-record message with " in row 1" after the value
    assert caught.value.row == 1
    assert " in row 1" in str(caught.value)
    assert str(caught.value).replace(" in row 1", "") == message


def test_missing_number_where_not_allowed(strict_model):
    with pytest.raises(runtime.InputError) as caught:
        strict_model.predict(with_(speed=None))
    assert str(caught.value) == (
        f"speed is missing (None), but the column does not allow missing values: must be {SPEED_STRICT}."
    )
    with pytest.raises(runtime.InputError) as caught:
        strict_model.predict_batch({name: [value, value] for name, value in with_(speed=math.nan).items()})
    assert str(caught.value) == (
        f"speed is missing (nan) in row 0, but the column does not allow missing values: must be {SPEED_STRICT}. "
        "(2 of 2 rows are invalid.)"
    )


def test_missing_where_allowed_is_predicted(model):
    # the golden cases with missing values hold scikit-learn's own answers for them (imputed as trained)
    cases = [case for case in model.manifest.golden_cases if None in case.inputs.values()]
    assert cases
    for case in cases:
        result = model.predict(case.inputs)
        assert result.label == case.label
        assert list(result.probabilities.values()) == pytest.approx(case.probabilities, abs=1e-12)
    nan_for_none = {name: math.nan if value is None else value for name, value in cases[0].inputs.items()}
    numbers = {spec.name for spec in model.manifest.inputs if spec.kind == "number"}
    nan_for_none = {n: v if n in numbers or not isinstance(v, float) else None for n, v in nan_for_none.items()}
    assert model.predict(nan_for_none).probabilities == model.predict(cases[0].inputs).probabilities


def test_column_mismatch_messages(model):
    label = f"model {model.name!r} {model.version}"
    record = dict(GOOD)
    del record["shift"]
    with pytest.raises(runtime.InputError, match=None) as caught:
        model.predict(record)
    assert str(caught.value) == f"record has 6 columns, but {label} expects 7: missing ['shift']."
    with pytest.raises(runtime.InputError) as caught:
        model.predict(with_(operator="Kim"))
    assert str(caught.value) == f"record has 8 columns, but {label} expects 7: unknown ['operator']."
    with pytest.raises(runtime.InputError) as caught:
        model.predict_batch({name: [value] for name, value in record.items()})
    assert str(caught.value) == f"batch has 6 columns, but {label} expects 7: missing ['shift']."
    with pytest.raises(runtime.InputError) as caught:
        model.predict_batch([GOOD, record])
    assert str(caught.value) == f"row 1 has 6 columns, but {label} expects 7: missing ['shift']."
    assert caught.value.row == 1


BATCH_SHAPE_CASES = [
    ("empty list", [], "batch is empty: at least one row is needed."),
    ("empty columns", {name: [] for name in GOOD}, "batch is empty: at least one row is needed."),
    (
        "ragged columns",
        {**{name: [value, value] for name, value in GOOD.items()}, "speed": [101.0]},
        "column 'speed' has 1 values, but 'temperature' has 2: every column needs one value per row.",
    ),
    (
        "two-dimensional column",
        {**{name: [value, value] for name, value in GOOD.items()}, "speed": np.ones((2, 2))},
        "column 'speed' must be one-dimensional (one value per row), got shape (2, 2).",
    ),
    (
        "scalar instead of a column",
        {**{name: [value] for name, value in GOOD.items()}, "speed": 101.0},
        "column 'speed' is a single float (101.0), must be a sequence with one value per row.",
    ),
    (
        "list of non-mappings",
        [GOOD, [1, 2]],
        "row 1 is a list, but a list batch must hold mappings of column -> value (one per record).",
    ),
    (
        "a record with a renamed column (as many keys as the model's)",
        [GOOD, {**{name: value for name, value in GOOD.items() if name != "shift"}, "Shift": "night"}, GOOD],
        "row 1 has 7 columns, but model 'quality' 1.0.0 expects 7: missing ['shift']; unknown ['Shift'].",
    ),
    (
        "not a batch at all",
        42,
        "batch is a int; expected a mapping of column -> values, a list of records, or a DataFrame.",
    ),
]


@pytest.mark.parametrize(("data", "message"), [c[1:] for c in BATCH_SHAPE_CASES], ids=[c[0] for c in BATCH_SHAPE_CASES])
def test_bad_batch_shapes(model, data, message):
    with pytest.raises(runtime.InputError) as caught:
        model.predict_batch(data)
    assert str(caught.value) == message


def test_record_must_be_a_mapping(model):
    with pytest.raises(runtime.InputError) as caught:
        model.predict([201.5, 48.0])
    assert str(caught.value) == "record is a list; expected a mapping of column -> value."


def test_skip_reports_every_bad_row_and_predicts_the_rest(model):
    rows = [GOOD, with_(temperature="hot"), GOOD, with_(machine_type="D", pressure=500.0), GOOD]
    result = model.predict_batch(rows, errors="skip")
    assert result.rows.tolist() == [0, 2, 4]
    assert [r.row for r in result.rejected] == [1, 3]
    assert len(result.rejected[1].reasons) == 2
    assert len(result.rows) + len(result.rejected) == len(rows)
    assert result.labels is not None and len(result.labels) == 3


def test_unknown_category_flag_policy(shipped_bundle):
    flagging = runtime.load(shipped_bundle, on_unknown="flag")
    result = flagging.predict(with_(machine_type="D"))
    assert result.flags == ("unknown category: machine_type == 'D'",)
    batch = flagging.predict_batch([GOOD, with_(machine_type="D")])
    assert dict(batch.flags) == {1: ("unknown category: machine_type == 'D'",)}


def test_numpy_scalars_and_ints_are_numbers(model):
    result = model.predict(with_(temperature=np.float32(201.5), pressure=np.int64(48), speed=101))
    plain = model.predict(with_(temperature=201.5, pressure=48.0, speed=101.0))
    assert (result.label, result.probabilities) == (plain.label, plain.probabilities)


def test_batch_forms_agree(model):
    rows = [GOOD, with_(temperature=240.0, vibration=3.1), with_(machine_type="C", shift=None)]
    as_records = model.predict_batch(rows)
    as_columns = model.predict_batch({name: [row[name] for row in rows] for name in GOOD})
    single = [model.predict(row) for row in rows]
    assert as_records.labels.tolist() == as_columns.labels.tolist() == [p.label for p in single]
    np.testing.assert_array_equal(as_records.probabilities, as_columns.probabilities)
    for index, prediction in enumerate(single):
        assert list(prediction.probabilities.values()) == pytest.approx(
            as_records.probabilities[index].tolist(), abs=1e-12
        )
    assert type(single[0].label) is type(model.classes[0])


def test_a_wrongly_typed_value_is_one_reason_not_also_missing(model):
    machine_type = next(spec for spec in model.manifest.inputs if spec.name == "machine_type")
    assert not machine_type.nullable  # so the old code also called the refused value "missing"
    result = model.predict_batch([with_(machine_type=3), with_(machine_type="B")], errors="skip")
    assert [(r.row, len(r.reasons)) for r in result.rejected] == [(0, 1)]
    assert result.rejected[0].reasons[0].startswith("machine_type == 3 in row 0 has type int, must be a string")
    assert result.rows.tolist() == [1]
