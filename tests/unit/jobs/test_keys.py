"""Which keys are jobs, the stable job id, and where outputs go (i2v.jobs.keys)."""

from __future__ import annotations

import re
from urllib.parse import quote_plus

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from i2v.contracts.errors import InvalidKey
from i2v.contracts.job import JobKind
from i2v.jobs import keys

UP, OUT = "uploads/", "outputs/"


# --- classify_key -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    [
        "uploads/cat.jpg",
        "uploads/cat.JPEG",
        "uploads/a/b/cat.PnG",
        "uploads/x/cat.JpEg",
        "uploads/my cat (1).png",
    ],
)
def test_images_in_any_case_are_image_jobs(key):
    decision = keys.classify_key(key, UP, OUT)
    assert decision.is_job
    assert decision.kind == JobKind.IMAGE


@pytest.mark.parametrize("key", ["uploads/job.json", "uploads/a/b/long-prompt.JSON"])
def test_json_files_are_job_files(key):
    decision = keys.classify_key(key, UP, OUT)
    assert decision.kind == JobKind.JOB_FILE


@pytest.mark.parametrize(
    "key, why",
    [
        ("uploads/_defaults.json", "'_'"),
        ("uploads/a/b/_defaults.json", "'_'"),
        ("uploads/_frames/x.png", "'_'"),
        ("uploads/a/_frames/end.png", "'_'"),
        ("uploads/cat.gif", "not a .jpg"),
        ("uploads/cat.webp", "not a .jpg"),
        ("uploads/cat.png.txt", "not a .jpg"),
        ("uploads/cat", "not a .jpg"),
        ("elsewhere/cat.png", "outside the uploads prefix"),
        ("cat.png", "outside the uploads prefix"),
        ("outputs/cat.png", "outputs prefix"),
        ("outputs/a/cat.json", "outputs prefix"),
        ("uploads/", "folder marker"),
        ("uploads/a/b/", "folder marker"),
    ],
)
def test_non_jobs_are_skipped_with_a_reason(key, why):
    decision = keys.classify_key(key, UP, OUT)
    assert not decision.is_job
    assert decision.kind is None
    assert why in decision.reason


def test_outputs_prefix_wins_even_when_nested_inside_uploads():
    decision = keys.classify_key("uploads/out/cat.png", "uploads/", "uploads/out/")
    assert not decision.is_job
    assert "outputs" in decision.reason


# --- check_key ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    [
        "uploads/cat.png",
        "uploads/a/b/cat.JPEG",
        "uploads/my cat (1).png",
        "uploads/café/猫.png",
        "uploads/a.b/c..d.png",
        "uploads/.hidden/cat.png",
        "uploads/.../cat.png",
        "uploads/100%25 sure+.png",
    ],
)
def test_plain_keys_pass_the_key_check(key):
    keys.check_key(key)


@pytest.mark.parametrize(
    "key",
    ["uploads/../secret.png", "uploads/a/../cat.png", "uploads/./cat.png", "./uploads/cat.png", "uploads/a/..",
     "uploads/."],
)
def test_dot_segments_are_refused(key):
    with pytest.raises(InvalidKey) as info:
        keys.check_key(key)
    assert info.value.code == "INVALID_KEY"
    assert repr(key) in info.value.message
    assert "'.' or '..' segment" in info.value.message and "expected a plain path" in info.value.message


@pytest.mark.parametrize("key", ["uploads//cat.png", "/uploads/cat.png", "uploads/a//b/cat.png"])
def test_empty_segments_are_refused(key):
    with pytest.raises(InvalidKey) as info:
        keys.check_key(key)
    assert info.value.code == "INVALID_KEY"
    assert "empty segment" in info.value.message and repr(key) in info.value.message


@pytest.mark.parametrize("char", ["\x00", "\n", "\r", "\t", "\x1b", "\x7f", "\\"])
def test_control_characters_and_backslashes_are_refused(char):
    key = f"uploads/cat{char}name.png"
    with pytest.raises(InvalidKey) as info:
        keys.check_key(key)
    assert info.value.code == "INVALID_KEY"
    assert repr(char) in info.value.message
    assert "control character or backslash" in info.value.message


def test_a_key_with_a_lone_surrogate_is_refused():
    with pytest.raises(InvalidKey) as info:
        keys.check_key("uploads/cat\udcff.png")
    assert info.value.code == "INVALID_KEY"
    assert "not valid Unicode" in info.value.message


def test_the_message_names_which_key_is_wrong():
    with pytest.raises(InvalidKey) as info:
        keys.check_key("uploads/../end.png", "end image key")
    assert info.value.message.startswith("the end image key 'uploads/../end.png'")


@given(st.text(st.sampled_from(["a", "é", "猫", " ", ".", "/", "\\", "\x00", "\x1f", "\x7f", "+", "%"]), max_size=24))
def test_the_key_check_refuses_exactly_the_ambiguous_keys(key):
    segments = key.split("/")
    ambiguous = (any(s in (".", "..") for s in segments) or "" in segments[:-1] or key.startswith("/")
                 or any(ord(ch) < 0x20 or ch in "\x7f\\" for ch in key))
    try:
        keys.check_key(key)
    except InvalidKey as exc:
        assert ambiguous and exc.code == "INVALID_KEY"
    else:
        assert not ambiguous


# --- decode_event_key ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, key",
    [
        ("uploads/my+cat.png", "uploads/my cat.png"),
        ("uploads/a%2Bb.png", "uploads/a+b.png"),
        ("uploads/caf%C3%A9/%E7%8C%AB.png", "uploads/café/猫.png"),
        ("uploads/100%25.png", "uploads/100%.png"),
        ("uploads/plain.png", "uploads/plain.png"),
    ],
)
def test_event_keys_are_url_decoded(raw, key):
    assert keys.decode_event_key(raw) == key


@given(st.text(min_size=1, max_size=80))
def test_decoding_undoes_the_event_encoding(key):
    assert keys.decode_event_key(quote_plus(key, safe="/")) == key
    assert keys.decode_event_key(quote_plus(key)) == key


# --- output_keys --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key, video, manifest",
    [
        ("uploads/cat.png", "outputs/cat.mp4", "outputs/cat.json"),
        ("uploads/a/b/cat.png", "outputs/a/b/cat.mp4", "outputs/a/b/cat.json"),
        ("uploads/a/b/cat.JPEG", "outputs/a/b/cat.mp4", "outputs/a/b/cat.json"),
        ("uploads/a.b/c.d.png", "outputs/a.b/c.d.mp4", "outputs/a.b/c.d.json"),
        ("uploads/jobs/job.json", "outputs/jobs/job.mp4", "outputs/jobs/job.json"),
    ],
)
def test_outputs_mirror_the_upload_path(key, video, manifest):
    assert keys.output_keys(key, UP, OUT) == (video, manifest)


def test_outputs_use_the_configured_prefixes():
    assert keys.output_keys("in/x/cat.png", "in/", "results/") == ("results/x/cat.mp4", "results/x/cat.json")


# --- job ids ------------------------------------------------------------------------------------


def test_job_id_is_stable_for_one_object_version():
    first = keys.job_id_for("media", "uploads/cat.png", "v1")
    assert first == keys.job_id_for("media", "uploads/cat.png", "v1")
    assert re.fullmatch(r"[0-9a-f]{32}", first)


def test_job_id_differs_per_version_key_and_bucket():
    ids = {
        keys.job_id_for("media", "uploads/cat.png", "v1"),
        keys.job_id_for("media", "uploads/cat.png", "v2"),
        keys.job_id_for("media", "uploads/dog.png", "v1"),
        keys.job_id_for("other", "uploads/cat.png", "v1"),
        keys.job_id_for("media", "uploads/cat.png", None),
    }
    assert len(ids) == 5


def test_execution_name_is_derived_from_the_job_id():
    job_id = keys.job_id_for("media", "uploads/cat.png", "v1")
    assert keys.execution_name(job_id) == f"job-{job_id}"
    assert len(keys.execution_name(job_id)) <= 80  # Step Functions' limit on execution names


def test_an_operators_redrive_gets_a_new_execution_name():
    job_id = keys.job_id_for("media", "uploads/cat.png", "v1")
    assert keys.execution_name(job_id, 0) == f"job-{job_id}"
    assert keys.execution_name(job_id, 2) == f"job-{job_id}-r2"
    assert len(keys.execution_name(job_id, 999)) <= 80


# --- resolve_relative ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "ref, resolved",
    [
        ("cat.png", "uploads/jobs/cat.png"),
        ("./cat.png", "uploads/jobs/cat.png"),
        ("_frames/end.png", "uploads/jobs/_frames/end.png"),
        ("../images/cat.png", "uploads/images/cat.png"),
        ("../../top.png", "top.png"),
        ("/uploads/other/cat.png", "uploads/other/cat.png"),
    ],
)
def test_references_resolve_relative_to_the_job_files_folder(ref, resolved):
    assert keys.resolve_relative("uploads/jobs/job.json", ref) == resolved


def test_reference_from_a_job_file_at_the_bucket_root():
    assert keys.resolve_relative("job.json", "cat.png") == "cat.png"


@pytest.mark.parametrize(
    "job_key, ref",
    [
        ("uploads/jobs/job.json", "../../../secret.png"),
        ("uploads/job.json", "../.."),
        ("job.json", "../cat.png"),
    ],
)
def test_references_above_the_bucket_root_are_refused(job_key, ref):
    with pytest.raises(ValueError, match="above the bucket root"):
        keys.resolve_relative(job_key, ref)


@pytest.mark.parametrize("ref", ["/../secret.png", "/uploads/../../secret.png"])
def test_absolute_references_are_held_to_the_same_root_rule(ref):
    with pytest.raises(ValueError):
        keys.resolve_relative("uploads/jobs/job.json", ref)


def test_absolute_references_are_normalised_like_relative_ones():
    assert keys.resolve_relative("uploads/jobs/job.json", "/uploads/a/../cat.png") == "uploads/cat.png"


# --- defaults_candidates ------------------------------------------------------------------------


def test_defaults_are_looked_up_nearest_folder_first_up_to_the_uploads_prefix():
    assert keys.defaults_candidates("uploads/a/b/cat.png", UP) == [
        "uploads/a/b/_defaults.json",
        "uploads/a/_defaults.json",
        "uploads/_defaults.json",
    ]


def test_defaults_for_a_top_level_upload():
    assert keys.defaults_candidates("uploads/cat.png", UP) == ["uploads/_defaults.json"]


def test_defaults_with_the_whole_bucket_as_uploads():
    assert keys.defaults_candidates("a/cat.png", "") == ["a/_defaults.json", "_defaults.json"]


# --- the pipeline never triggers itself ---------------------------------------------------------

segment = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="/"), min_size=1, max_size=12
)
prefixes = st.sampled_from(
    [("uploads/", "outputs/"), ("in/", "out/"), ("", "outputs/"), ("media/uploads/", "media/outputs/")]
)


@settings(max_examples=300)
@given(
    prefixes,
    st.lists(segment, min_size=1, max_size=5),
    st.sampled_from([".png", ".jpg", ".JPEG", ".json", ".PNG", ""]),
)
def test_outputs_of_any_upload_are_under_the_outputs_prefix_and_never_jobs(prefix_pair, parts, suffix):
    uploads, outputs = prefix_pair
    key = uploads + "/".join(parts) + suffix
    if not key.startswith(uploads) or key.startswith(outputs):
        return
    for out_key in keys.output_keys(key, uploads, outputs):
        assert out_key.startswith(outputs)
        decision = keys.classify_key(out_key, uploads, outputs)
        assert not decision.is_job, (key, out_key)
