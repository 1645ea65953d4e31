"""Incoming MQTT payloads: strict JSON bounded in size (the server's messages), the ``id`` field taken out,
columns renamed and numbers converted as the config says, nothing else changed."""

from __future__ import annotations

import pytest

from runtime._connect.config import Unit
from runtime._connect.payload import decode_payload
from runtime._errors import InputError

COLUMNS = frozenset({"temperature", "shift"})


def decode(payload: bytes, **options):
    settings = {"max_bytes": 1024, "columns": COLUMNS, "renames": {}, "units": {}, **options}
    return decode_payload(payload, **settings)


def test_the_id_is_taken_out_and_echoed() -> None:
    assert decode(b'{"id": "part-1", "temperature": 200.5, "shift": "day"}') == (
        {"temperature": 200.5, "shift": "day"},
        "part-1",
    )
    assert decode(b'{"temperature": 200.5}') == ({"temperature": 200.5}, None)


def test_an_id_column_of_the_model_stays_an_input() -> None:
    assert decode(b'{"id": 7}', columns=frozenset({"id"})) == ({"id": 7}, None)


def test_renames_and_units_apply_to_numbers_only() -> None:
    record, _ = decode(
        b'{"Air temperature [K]": 473.15, "Shift": "day"}',
        renames={"Air temperature [K]": "temperature", "Shift": "shift"},
        units={"temperature": Unit(scale=1.0, offset=-273.15)},
    )
    assert record == {"temperature": pytest.approx(200.0), "shift": "day"}
    # a string stays a string, for the model's validation to refuse
    assert decode(b'{"temperature": "hot"}', units={"temperature": Unit(2.0, 0.0)})[0] == {"temperature": "hot"}
    assert decode(b'{"temperature": true}', units={"temperature": Unit(2.0, 0.0)})[0] == {"temperature": True}


REFUSED = [
    (b"x" * 2000, {}, "request body has 2,000 bytes, more than the 1,024 allowed."),
    (b"[1, 2]", {}, "request body must be one record (a JSON object of column -> value), got list."),
    (b'{"temperature": NaN}', {}, "request body holds NaN, which is not JSON: send null for a missing value."),
    (b'{"shift": "\xff"}', {}, "request body is not UTF-8 text: invalid start byte at byte 11."),
    (
        b'{"T": 1.0, "temperature": 2.0}',
        {"renames": {"T": "temperature"}},
        "column 'temperature' is given twice in one record (as 'temperature' and under its own name).",
    ),
]


@pytest.mark.parametrize(("payload", "options", "message"), REFUSED)
def test_a_payload_that_is_not_one_record_is_refused(payload: bytes, options, message: str) -> None:
    with pytest.raises(InputError) as caught:
        decode(payload, **options)
    assert str(caught.value) == message
