"""``on_out_of_range``: "reject" (default) refuses a number outside its valid range, "flag" predicts it as
given and says so in the result's flags, on one record and in batches, set at load or per call."""

from __future__ import annotations

import math

import pytest

import runtime
from tests.runtime.test_validation import GOOD, with_

HOT = {**GOOD, "temperature": 412.0}
HOT_FLAG = "out of range: temperature == 412.0, outside [100.0, 300.0]"


@pytest.fixture(scope="module")
def rejecting(shipped_bundle):
    return runtime.load(shipped_bundle)


@pytest.fixture(scope="module")
def flagging(shipped_bundle):
    return runtime.load(shipped_bundle, on_out_of_range="flag")


def test_reject_is_the_default_and_names_the_way_to_accept(rejecting):
    assert rejecting.on_out_of_range == "reject"
    with pytest.raises(runtime.InputError) as caught:
        rejecting.predict(HOT)
    assert str(caught.value).endswith(
        "(valid range from the demo data's physical sensor limits) "
        '(load with on_out_of_range="flag" to accept and flag it).'
    )
    assert (caught.value.column, caught.value.value) == ("temperature", 412.0)


def test_flag_predicts_the_value_as_given_and_flags_it(flagging, rejecting):
    result = flagging.predict(HOT)
    assert result.flags == (HOT_FLAG,)
    # the graph saw 412.0 itself, not a clipped value: the batch path (same session) agrees exactly
    batch = rejecting.predict_batch([HOT], on_out_of_range="flag")
    assert batch.probabilities is not None and result.probabilities is not None
    assert list(result.probabilities.values()) == batch.probabilities[0].tolist()
    assert dict(batch.flags) == {0: (HOT_FLAG,)}
    assert flagging.predict(GOOD).flags == ()


def test_flags_of_both_policies_come_in_column_order(shipped_bundle):
    both = runtime.load(shipped_bundle, on_unknown="flag", on_out_of_range="flag")
    record = with_(pressure=-1, machine_type="D", temperature=412.0)
    expected = (HOT_FLAG, "out of range: pressure == -1, outside [0.0, 120.0]", "unknown category: machine_type == 'D'")
    assert both.predict(record).flags == expected
    assert dict(both.predict_batch([GOOD, record]).flags) == {1: expected}


def test_batch_flags_only_the_rows_outside(flagging):
    rows = [GOOD, HOT, with_(speed=250), GOOD]
    result = flagging.predict_batch(rows)
    assert result.rows.tolist() == [0, 1, 2, 3]
    assert dict(result.flags) == {1: (HOT_FLAG,), 2: ("out of range: speed == 250, outside [0.0, 200.0]",)}


def test_a_per_call_override_goes_both_ways(flagging, rejecting):
    with pytest.raises(runtime.InputError, match="must be within"):
        flagging.predict_batch([GOOD, HOT], on_out_of_range="reject")
    assert dict(rejecting.predict_batch([GOOD, HOT], on_out_of_range="flag").flags) == {1: (HOT_FLAG,)}
    skipped = rejecting.predict_batch([GOOD, HOT], errors="skip")
    assert [row.row for row in skipped.rejected] == [1]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (math.inf, "temperature == inf, must be a finite number within [100.0, 300.0] or missing (None)."),
        (10**400, "temperature == 1000"),
        ("412", "temperature == '412' has type str"),
    ],
    ids=["infinite", "too large for a float", "a string"],
)
def test_flag_still_refuses_what_is_not_a_usable_number(flagging, value, message):
    with pytest.raises(runtime.InputError) as single:
        flagging.predict(with_(temperature=value))
    assert str(single.value).startswith(message)
    with pytest.raises(runtime.InputError) as batch:
        flagging.predict_batch([GOOD, with_(temperature=value)])
    assert batch.value.row == 1


@pytest.mark.parametrize("policy", ["clip", "", None])
def test_an_unknown_policy_is_refused(shipped_bundle, rejecting, policy):
    with pytest.raises(ValueError, match=f"on_out_of_range == {policy!r}, must be 'reject' or 'flag'"):
        runtime.load(shipped_bundle, on_out_of_range=policy)
    if policy is not None:  # None means "the model's own" for a call
        with pytest.raises(ValueError, match="on_out_of_range =="):
            rejecting.predict_batch([GOOD], on_out_of_range=policy)
