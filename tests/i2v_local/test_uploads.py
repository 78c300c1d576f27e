"""How `i2v local` maps files and flags to uploads (i2v_local/uploads.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from i2v.jobs.params import decode_metadata_value
from i2v_local.uploads import UsageError, expand, output_clashes, plan


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
    # the job file first: it claims its images before they arrive, so they are never jobs of their own
    assert [u.key for u in uploads] == ["uploads/spin.json", "uploads/_frames/s.png", "uploads/_frames/e.png"]


def test_images_a_job_file_names_beside_it_are_uploaded_after_it_and_not_as_jobs(tmp_path, make_image,
                                                                                  monkeypatch):
    monkeypatch.chdir(tmp_path)
    make_image("cat.png")
    make_image("dog.png")
    (tmp_path / "cat.json").write_text(json.dumps({"image": "cat.png", "prompt": "the cat turns"}))
    uploads = plan([Path("cat.json"), Path("dog.png")], {}, None)
    assert [(u.key, u.is_job) for u in uploads] == [("uploads/cat.json", True), ("uploads/cat.png", False),
                                                    ("uploads/dog.png", True)]


@pytest.mark.parametrize("name, content, message", [
    ("missing.png", None, "does not exist"),
    ("notes.txt", b"hello", "expected .jpg, .jpeg, .png, .json or a folder"),
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


def test_every_problem_is_reported_at_once(tmp_path, make_image):
    job = tmp_path / "j.json"
    job.write_text("{}")
    with pytest.raises(UsageError) as caught:
        plan([tmp_path / "missing.png", tmp_path / "nowhere", job, make_image("_hidden.png")], {"prompt": "x"},
             tmp_path / "no-end.png")
    problems = caught.value.problems
    assert len(problems) == 5, problems
    assert any("missing.png does not exist" in p for p in problems)
    assert any("`--end-image" in p and "does not exist" in p for p in problems)
    assert any("put parameters in it" in p for p in problems)
    assert any("_hidden.png: names starting with '_' are never jobs" in p for p in problems)


def test_a_folder_expands_like_an_s3_upload_of_it(tmp_path, make_image, monkeypatch):
    """Images and job files, recursively, sorted; `_` names are not jobs but `_defaults.json` applies;
    hidden folders, the run's output folder and earlier manifests are left out."""
    monkeypatch.chdir(tmp_path)
    for name in ("shots/b.png", "shots/a.JPG", "shots/sub/c.jpeg", "shots/_frames/e.png", "shots/.cache/x.png",
                 "shots/out/old.png"):
        make_image(name)
    (tmp_path / "shots" / "_defaults.json").write_text('{"prompt": "from the folder"}')
    (tmp_path / "shots" / "spin.json").write_text('{"image": "_frames/e.png"}')
    (tmp_path / "shots" / "notes.txt").write_text("not a job")
    (tmp_path / "shots" / "b.json").write_text('{"schema": "i2v.notification/v1", "status": "SUCCEEDED"}')
    found, problems = expand([Path("shots")], skip=[Path("shots/out")])
    assert problems == []
    assert [key for _path, key in found] == ["uploads/shots/_defaults.json", "uploads/shots/a.JPG",
                                             "uploads/shots/b.png", "uploads/shots/spin.json",
                                             "uploads/shots/sub/c.jpeg"]
    uploads = plan([Path("shots")], {}, None, out_dir=Path("shots/out"))
    assert [(u.key, u.is_job) for u in uploads] == [
        ("uploads/shots/_defaults.json", False), ("uploads/shots/spin.json", True),
        ("uploads/shots/_frames/e.png", False), ("uploads/shots/a.JPG", True), ("uploads/shots/b.png", True),
        ("uploads/shots/sub/c.jpeg", True)]


def test_an_absolute_folder_keeps_its_name_and_the_current_folder_none(tmp_path, make_image, monkeypatch):
    make_image("shots/a.png")
    assert [k for _p, k in expand([tmp_path / "shots"])[0]] == ["uploads/shots/a.png"]
    monkeypatch.chdir(tmp_path / "shots")
    assert [k for _p, k in expand([Path(".")])[0]] == ["uploads/a.png"]


def test_a_folder_with_nothing_to_do_is_refused_with_a_hint(tmp_path, make_image):
    make_image("empty/_frames/e.png")
    (tmp_path / "empty" / "_defaults.json").write_text("{}")
    with pytest.raises(UsageError, match="folder with no .jpg, .jpeg, .png image or .json job file"):
        plan([tmp_path / "empty"], {}, None)


def test_outputs_never_land_on_an_input(tmp_path, make_image, monkeypatch):
    monkeypatch.chdir(tmp_path)
    make_image("a.png")
    (tmp_path / "job.json").write_text('{"image": "a.png"}')
    uploads = plan([Path("job.json")], {}, None)
    clashes = output_clashes(uploads, Path("."))
    assert len(clashes) == 1 and "the manifest of job.json over the input job.json" in clashes[0]
    assert "--out i2v-output" in clashes[0]
    assert output_clashes(uploads, Path("i2v-output")) == []


def test_outputs_never_land_on_a_file_that_is_not_an_earlier_output(tmp_path, make_image, monkeypatch):
    monkeypatch.chdir(tmp_path)
    make_image("a.png")
    make_image("b.png")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "a.json").write_text('{"mine": true}')  # the user's own file
    (tmp_path / "out" / "b.json").write_text('{"schema": "i2v.notification/v1"}')  # an earlier run's manifest
    clashes = output_clashes(plan([Path("a.png"), Path("b.png")], {}, None), Path("out"))
    assert len(clashes) == 1 and "out/a.json, which is not an earlier i2v output" in clashes[0]


def test_flags_too_big_for_s3_metadata_are_refused(tmp_path, make_image):
    with pytest.raises(UsageError, match="put a long prompt in a .json job file"):
        plan([make_image("a.png")], {"prompt": "é" * 1500}, None)
