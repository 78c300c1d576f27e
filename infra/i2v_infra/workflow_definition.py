"""The one ASL definition (workflow/pipeline.asl.json) and its placeholders, for the CDK stack and the
local cloud alike. Pure Python: the local cloud reads it without loading the CDK."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

ASL_PATH = Path(__file__).resolve().parent / "workflow" / "pipeline.asl.json"
PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)\}")


def read_definition() -> str:
    return ASL_PATH.read_text(encoding="utf-8")


def placeholders(definition: str) -> set[str]:
    return set(PLACEHOLDER.findall(definition))


def substitute(definition: str, values: Mapping[str, str]) -> str:
    """Fill every ``${Name}``; a placeholder without a value is an error naming it."""
    missing = placeholders(definition) - set(values)
    if missing:
        raise ValueError(f"{ASL_PATH.name} has placeholders without a value: {sorted(missing)}")
    return PLACEHOLDER.sub(lambda m: values[m.group(1)], definition)
