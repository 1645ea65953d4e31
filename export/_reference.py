"""The JSON Schema of one input record, for MES / PLC-bridge integrators (input_schema.json)."""

from __future__ import annotations

from typing import Any

import runtime

__all__ = ["input_json_schema"]


def input_json_schema(manifest: runtime.Manifest) -> dict[str, Any]:
    """A JSON Schema (draft 2020-12) of one input record, for integrators in any language."""
    properties: dict[str, Any] = {}
    for spec in manifest.inputs:
        if spec.kind == "number":
            prop: dict[str, Any] = {"type": ["number", "null"] if spec.nullable else "number"}
            if spec.valid_range is not None:
                prop["minimum"], prop["maximum"] = spec.valid_range
        else:
            categories: list[Any] = list(spec.categories or ())
            prop = {
                "type": ["string", "null"] if spec.nullable else "string",
                "enum": categories + ([None] if spec.nullable else []),
            }
        prop["description"] = spec.description or (
            f"{spec.kind}; " + ("may be null (missing)" if spec.nullable else "required, never null")
        )
        properties[spec.name] = prop
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"urn:factory-edge:{manifest.name}:{manifest.version}:input-record",
        "title": f"Input record for model {manifest.name} {manifest.version}",
        "description": "One record (row) as the runtime accepts it. Numbers are JSON numbers, never strings; "
        "NaN and infinities are not allowed; null marks a missing value where permitted. "
        "Unknown categories are refused by default.",
        "type": "object",
        "properties": properties,
        "required": [spec.name for spec in manifest.inputs],
        "additionalProperties": False,
    }
