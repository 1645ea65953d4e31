"""JSON request and response bodies: strict JSON in, compact ASCII JSON out, one copy each.

JSON has no NaN: a body holding ``NaN`` or ``Infinity`` is refused (``null`` is a missing value),
and a response is never written with one (``allow_nan=False`` makes such a bug loud). Numbers a
float cannot hold are refused too: ``1e400`` (which Python reads as infinity) and integers beyond
the float range, such as ``10**400``, are 400s here rather than overflow errors (500s) further on.

Responses escape every non-ASCII character (``ensure_ascii=True``): a client's lone surrogate
(``"\ud800"``, valid JSON, not encodable as UTF-8) can be echoed in an error message and still be sent.

>>> dump_json({"label": 1, "flags": []})
b'{"label":1,"flags":[]}'
>>> parse_json(b'{"temperature": null}')
{'temperature': None}
"""

from __future__ import annotations

import json
import math
import re
import sys
from typing import Any

from ._errors import InputError

__all__ = ["dump_json", "parse_json"]


def _no_constants(name: str) -> Any:
    raise InputError(f"request body holds {name}, which is not JSON: send null for a missing value.")


# The longest decimal integer that can be within the float range (1.8e308 has 309 digits).
_FLOAT_DIGITS = 309


def _excerpt(text: str) -> str:
    return text if len(text) <= 20 else f"{text[:12]}...({len(text)} characters)"


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise InputError(
            f"request body holds the number {_excerpt(text)}, which is too large for a float "
            f"(at most {sys.float_info.max:.4g} in magnitude)."
        )
    return value


def _float_sized_int(text: str) -> int:
    # int() raises a plain ValueError past sys.get_int_max_str_digits(): parse_json words it.
    value = int(text)
    if len(text) >= _FLOAT_DIGITS and abs(value) > sys.float_info.max:
        raise InputError(
            f"request body holds the integer {_excerpt(text)}, which is too large for a float "
            f"(at most {sys.float_info.max:.4g} in magnitude)."
        )
    return value


# A \uD800-\uDFFF escape: only then can a parsed string hold a surrogate (raw UTF-8 cannot encode one).
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def _lone_surrogate(value: Any) -> str | None:
    """The first string in ``value`` (keys too) that is not encodable as UTF-8, or None."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return item
        elif isinstance(item, list):
            pending.extend(item)
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
    return None


def parse_json(body: bytes) -> Any:
    """Parse a request body as strict JSON (no NaN or Infinity, no number beyond the float range),
    raising :class:`InputError`."""
    try:
        data = json.loads(body, parse_constant=_no_constants, parse_float=_finite_float, parse_int=_float_sized_int)
    except json.JSONDecodeError as error:
        raise InputError(
            f"request body is not valid JSON: {error.msg} at line {error.lineno} column {error.colno}."
        ) from None
    except UnicodeDecodeError as error:
        raise InputError(f"request body is not UTF-8 text: {error.reason} at byte {error.start}.") from None
    except RecursionError:
        raise InputError("request body is not valid JSON: nested too deeply.") from None
    except InputError:
        raise  # NaN, Infinity or a number too large, refused by the hooks (InputError is a ValueError too)
    except ValueError:
        # Python's int -> str limit: json.loads raises a plain ValueError for a number that long.
        raise InputError(
            f"request body holds a number of more than {sys.get_int_max_str_digits()} digits, "
            "which is not JSON this server reads."
        ) from None
    if _SURROGATE_ESCAPE.search(body):  # a surrogate pair (an emoji) is text; a lone one is not
        text = _lone_surrogate(data)
        if text is not None:
            shown = text if len(text) <= 20 else text[:20] + "..."
            raise InputError(
                f"request body holds the string {ascii(shown)}, which has a lone surrogate and is not Unicode "
                "text: send UTF-8 text."
            )
    return data


def dump_json(payload: Any) -> bytes:
    """``payload`` as compact ASCII JSON (non-ASCII escaped); raises ValueError for NaN or infinities."""
    return json.dumps(payload, ensure_ascii=True, allow_nan=False, separators=(",", ":")).encode("ascii")
