"""How `i2v local` maps files and flags to uploads (i2v_local/uploads.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from i2v.jobs.params import decode_metadata_value
from i2v_local.uploads import UsageError, plan


def test_relative_paths_keep_their_folders_and_flags_become_metadata(tmp_path, make_image, monkeypatch):
    monkeypatch.chdir(tmp_path)
    make_image("shots/a.png")
    uploads = plan([Path("shots/a.png")], {"prompt": "café crème", "duration": 10}, None)
    assert [u.key for u in uploads] == ["uploads/shots/a.png"]
    meta = uploads[0].metadata
    assert decode_metadata_value(meta["prompt"]) == "café crème" and meta["prompt"].isascii()
    assert meta["duration"] == "10"


def test_an_end_image_is_uploaded_first_under_a_frames_folder(tmp_path, make_image):
    start, end = make_image("a.png"), make_image("a-end.png")
    uploads = plan([start], {"mode": "Professional"}, end)
    assert [u.key for u in uploads] == ["uploads/_frames/a-end.png", "uploads/a.png"]
    assert [u.is_job for u in uploads] == [False, True]
    assert uploads[1].metadata["end-image"] == "_frames/a-end.png"


def test_a_job_file_brings_the_images_it_names(tmp_path, make_image, monkeypatch):
    monkeypatch.chdir(tmp_path)
    make_image("_frames/s.png")
    make_image("_frames/e.png")
    (tmp_path / "spin.json").write_text(json.dumps({"image": "_frames/s.png", "end_image": "_frames/e.png",
                                                    "prompt": "spin", "mode": "Professional"}))
    uploads = plan([Path("spin.json")], {}, None)
    assert [u.key for u in uploads] == ["uploads/_frames/s.png", "uploads/_frames/e.png", "uploads/spin.json"]


@pytest.mark.parametrize("name, content, message", [
    ("missing.png", None, "does not exist"),
    ("notes.txt", b"hello", "expected .jpg, .jpeg, .png or .json"),
])
def test_usage_errors_say_what_was_expected(tmp_path, name, content, message):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(UsageError, match=message):
        plan([path], {}, None)


def test_flags_with_a_job_file_are_a_usage_error(tmp_path):
    job = tmp_path / "j.json"
    job.write_text("{}")
    with pytest.raises(UsageError, match="put parameters in it"):
        plan([job], {"prompt": "x"}, None)
