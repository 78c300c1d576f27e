"""Shared fixtures: images made on the fly, the notification schema, and a local pipeline run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from support import SCHEMA_PATH, image_bytes


@pytest.fixture
def make_image(tmp_path):
    def make(name: str, width: int = 640, height: int = 480, fmt: str | None = None, **kw) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        fmt = fmt or ("JPEG" if path.suffix.lower() in (".jpg", ".jpeg") else "PNG")
        path.write_bytes(image_bytes(width, height, fmt, **kw))
        return path
    return make


@pytest.fixture(scope="session")
def notification_validator():
    from jsonschema import Draft202012Validator, FormatChecker

    schema = json.loads(SCHEMA_PATH.read_text())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=FormatChecker())
