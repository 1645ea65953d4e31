"""The manifest's ``device_graph`` section: the folded, packed graph the runtime runs when present.

A bundle may hold, beside the public ``model.onnx`` (one input per column, for any onnxruntime or
KServe client), a second graph made by the export for this runtime: the preprocessing folded into
the trees, fed one ``[N, width]`` double tensor. The section names the file (hashed like the model
file) and where each column goes in that tensor:

- a number column fills ``value`` with the number and ``negated`` with its negation (NaN in both
  when missing), where the graph reads them;
- a category column sets the slot ``categories[value]`` to 1.0 and its other indicator slots to
  0.0; a missing value is looked up as ``""`` (the export maps it to the category its imputer fills
  in), and a value without a slot (unknown, or a category no split reads) leaves every slot 0.0;
- a category column folded from an ordinal encoder also (or only) has a ``code`` slot, set to
  ``codes[value]``, or to ``unknown_code`` for a value not in ``codes``; it sits right after the
  column's indicator slots.

Every slot ``0 .. width-1`` is filled by exactly one column entry, so the packed row is complete;
the loader checks that before it opens the graph. An optional section: older runtimes ignore it
and run ``model.onnx``, and bundles without it load as before (no schema bump).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ._errors import BundleError
from ._fields import optional, require, shown

if TYPE_CHECKING:
    from ._manifest import FileSpec

__all__ = ["DEVICE_GRAPH_INPUT", "DeviceColumn", "DeviceGraph"]

DEVICE_GRAPH_INPUT = "packed"
MAX_WIDTH = 1 << 20


def _slot(value: Any, where: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < MAX_WIDTH:
        raise BundleError(f"manifest field {where} == {shown(value)}, expected a slot number in [0, {MAX_WIDTH})")
    return value


def _code(value: Any, where: str) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
        raise BundleError(f"manifest field {where} == {shown(value)}, expected a finite number")
    return float(value)


@dataclasses.dataclass(frozen=True)
class DeviceColumn:
    """Where one column goes in the packed input (see the module docstring)."""

    value: int | None = None
    negated: int | None = None
    categories: Mapping[str, int] = dataclasses.field(default_factory=dict)
    code: int | None = None
    codes: Mapping[str, float] = dataclasses.field(default_factory=dict)
    unknown_code: float = 0.0

    def category_slots(self) -> list[int]:
        """A category column's slots, in order: its indicators (an alias ``""`` counted once), then its code."""
        return sorted(set(self.categories.values())) + ([self.code] if self.code is not None else [])

    def slots(self) -> list[int]:
        """The slots this column fills."""
        return [slot for slot in (self.value, self.negated) if slot is not None] + self.category_slots()

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"value": self.value, "negated": self.negated, "categories": dict(self.categories)}
        if self.code is not None:
            data.update(code=self.code, codes=dict(self.codes), unknown_code=self.unknown_code)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str) -> DeviceColumn:
        raw_value, raw_negated, raw_code = data.get("value"), data.get("negated"), data.get("code")
        categories = optional(data, "categories", dict, where) or {}
        codes = optional(data, "codes", dict, where) or {}
        return cls(
            value=None if raw_value is None else _slot(raw_value, f"{where}value"),
            negated=None if raw_negated is None else _slot(raw_negated, f"{where}negated"),
            categories={
                str(name): _slot(slot, f"{where}categories[{shown(name)}]") for name, slot in categories.items()
            },
            code=None if raw_code is None else _slot(raw_code, f"{where}code"),
            codes={str(name): _code(code, f"{where}codes[{shown(name)}]") for name, code in codes.items()},
            unknown_code=_code(data.get("unknown_code", 0.0), f"{where}unknown_code"),
        )


@dataclasses.dataclass(frozen=True)
class DeviceGraph:
    """The device graph's file (``path``, ``sha256``, ``size``), input width and column slots."""

    file: FileSpec
    width: int
    columns: Mapping[str, DeviceColumn]
    input: str = DEVICE_GRAPH_INPUT
    folded: tuple[str, ...] = ()
    kept: tuple[str, ...] = ()  # steps that did not fold and run as nodes inside the graph

    def check(self, kinds: Mapping[str, str], categories: Mapping[str, tuple[str, ...]]) -> None:
        """Refuse a layout that names unknown columns, mixes kinds or does not fill every slot once."""
        filled: list[int] = []
        for name, column in self.columns.items():
            where = f"manifest field device_graph.columns[{shown(name)}]"
            if name not in kinds:
                raise BundleError(f"{where} is not one of the input columns")
            if kinds[name] == "number" and (column.categories or column.code is not None or column.codes):
                raise BundleError(f"{where} is a number column but lists category slots")
            if kinds[name] == "category" and (column.value is not None or column.negated is not None):
                raise BundleError(f"{where} is a category column but has number slots")
            for field in ("categories", "codes"):
                unknown = sorted(set(getattr(column, field)) - set(categories.get(name, ())) - {""})
                if unknown:
                    raise BundleError(f"{where}.{field} names {shown(unknown)}, which the column does not accept")
            if column.codes and column.code is None:
                raise BundleError(f"{where} lists codes but no code slot")
            used = column.category_slots()
            if used and used != list(range(used[0], used[-1] + 1)):
                raise BundleError(f"{where}.categories uses the slots {shown(used)}, which must be adjacent")
            filled += column.slots()
        if sorted(filled) != list(range(self.width)):
            raise BundleError(
                f"manifest field device_graph: the columns fill the slots {shown(sorted(filled)[:8])}, "
                f"expected each of 0 .. {self.width - 1} exactly once"
            )

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file.to_dict(),
            "input": self.input,
            "width": self.width,
            "columns": {name: column.to_dict() for name, column in self.columns.items()},
            "folded": list(self.folded),
            "kept": list(self.kept),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], file: FileSpec) -> DeviceGraph:
        where = "device_graph."
        columns = require(data, "columns", dict, where)
        steps = {key: optional(data, key, list, where) or [] for key in ("folded", "kept")}
        for key, names in steps.items():
            if not all(isinstance(step, str) for step in names):
                raise BundleError(f"manifest field device_graph.{key} must hold strings only")
        for name, raw in columns.items():
            if not isinstance(raw, Mapping):
                raise BundleError(f"manifest field {where}columns[{shown(name)}] == {shown(raw)}, expected an object")
        width = require(data, "width", int, where)
        if not 0 < width <= MAX_WIDTH:
            raise BundleError(f"manifest field {where}width == {width!r}, expected 1 to {MAX_WIDTH}")
        return cls(
            file=file,
            width=width,
            columns={
                str(name): DeviceColumn.from_dict(raw, f"{where}columns[{shown(name)}].")
                for name, raw in columns.items()
            },
            input=require(data, "input", str, where),
            folded=tuple(steps["folded"]),
            kept=tuple(steps["kept"]),
        )
