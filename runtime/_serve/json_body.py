"""JSON request and response bodies: strict JSON in, compact UTF-8 JSON out, one copy each.

JSON has no NaN: a body holding ``NaN`` or ``Infinity`` is refused (``null`` is a missing value),
and a response is never written with one (``allow_nan=False`` makes such a bug loud).

>>> dump_json({"label": 1, "flags": []})
b'{"label":1,"flags":[]}'
>>> parse_json(b'{"temperature": null}')
{'temperature': None}
"""

from __future__ import annotations

import json
import sys
from typing import Any

from .._errors import InputError

__all__ = ["dump_json", "parse_json"]


def _no_constants(name: str) -> Any:
    raise InputError(f"request body holds {name}, which is not JSON: send null for a missing value.")


def parse_json(body: bytes) -> Any:
    """Parse a request body as strict JSON (no NaN or Infinity), raising :class:`InputError`."""
    try:
        return json.loads(body, parse_constant=_no_constants)
    except json.JSONDecodeError as error:
        raise InputError(
            f"request body is not valid JSON: {error.msg} at line {error.lineno} column {error.colno}."
        ) from None
    except UnicodeDecodeError as error:
        raise InputError(f"request body is not UTF-8 text: {error.reason} at byte {error.start}.") from None
    except RecursionError:
        raise InputError("request body is not valid JSON: nested too deeply.") from None
    except InputError:
        raise  # NaN or Infinity, refused by _no_constants (InputError is a ValueError too)
    except ValueError:
        # Python's int -> str limit: json.loads raises a plain ValueError for a number that long.
        raise InputError(
            f"request body holds a number of more than {sys.get_int_max_str_digits()} digits, "
            "which is not JSON this server reads."
        ) from None


def dump_json(payload: Any) -> bytes:
    """``payload`` as compact UTF-8 JSON; raises ValueError for NaN or infinities."""
    return json.dumps(payload, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8")
