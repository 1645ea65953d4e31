"""Any JSON-ish value in any column gives a prediction or an InputError, never another exception
(issue 10, finding 11), for one record and for a batch with errors="skip".

Property-based with Hypothesis, bounded so CI stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import runtime

hypothesis = pytest.importorskip("hypothesis", reason="property tests need the dev extra (hypothesis)")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _json_values(*, huge_integers: bool) -> Any:
    integers = st.integers(min_value=-(10**300), max_value=10**300)
    if huge_integers:
        integers |= st.integers(min_value=10**308, max_value=10**400)
    return st.recursive(
        st.none()
        | st.booleans()
        | integers
        | st.floats()
        | st.text(max_size=20)
        | st.sampled_from(["A", "B", "C", "\ud800", "nan", ""]),
        lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3),
        max_leaves=6,
    )


@pytest.fixture(scope="module")
def model(shipped_bundle: Path) -> runtime.Model:
    return runtime.load(shipped_bundle)


def _records(model: runtime.Model, *, huge_integers: bool = True) -> Any:
    values = _json_values(huge_integers=huge_integers)
    return st.fixed_dictionaries({name: values for name in model.columns})


@SETTINGS
@given(data=st.data())
def test_predict_gives_a_prediction_or_an_input_error(data: Any, model: runtime.Model) -> None:
    record = data.draw(_records(model))
    try:
        model.predict(record)
    except runtime.InputError as error:
        assert str(error)


@SETTINGS
@given(data=st.data())
def test_predict_batch_skip_accounts_for_every_row(data: Any, model: runtime.Model) -> None:
    records = data.draw(st.lists(_records(model), min_size=1, max_size=5))
    try:
        result = model.predict_batch(records, errors="skip")
    except runtime.InputError as error:  # a batch-level refusal, worded
        assert str(error)
        return
    assert len(result.rows) + len(result.rejected) == len(records)


@pytest.mark.parametrize("batch", [False, True], ids=["predict", "predict_batch"])
def test_an_integer_beyond_float_range_is_an_input_error(model: runtime.Model, batch: bool) -> None:
    record = {**dict.fromkeys(model.columns), "vibration": 10**400}
    if batch:
        result = model.predict_batch([record], errors="skip")
        assert [r.row for r in result.rejected] == [0]
        too_large = "vibration == 1" + "0" * 56 + "... in row 0 is too large for a float, must be a finite number"
        assert any(reason.startswith(too_large) for reason in result.rejected[0].reasons)
    else:
        with pytest.raises(runtime.InputError, match=r"^vibration == 1000+\.\.\. is too large for a float, must be"):
            model.predict(record)
