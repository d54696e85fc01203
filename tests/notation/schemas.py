"""Validate the notation commands' ``-o json`` documents against docs/schemas/."""

from __future__ import annotations

import json
from typing import Any

import jsonschema

from tests.conftest import ROOT

SCHEMAS = ROOT / "docs" / "schemas"


def check(command: str, text: str) -> dict[str, Any]:
    """Parse ``text`` and validate it against ``docs/schemas/<command>.schema.json``."""
    doc: dict[str, Any] = json.loads(text)
    schema = json.loads((SCHEMAS / f"{command}.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(doc, schema, cls=jsonschema.Draft202012Validator)
    return doc
