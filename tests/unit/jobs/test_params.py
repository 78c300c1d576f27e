"""Where job parameters come from and how the layers merge (i2v.jobs.params)."""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from i2v import constants as c
from i2v.errors import InvalidJobFile, InvalidParameters
from i2v.jobs import params as p

# --- precedence ---------------------------------------------------------------------------------


def test_metadata_beats_defaults_file_beats_stack_defaults():
    metadata = p.from_metadata({"prompt": "from metadata"})
    folder = {"prompt": "from folder", "duration": 10}
    stack = p.stack_defaults({})
    merged = p.merge_layers(metadata, folder, stack)
    assert merged["prompt"] == "from metadata"
    assert merged["duration"] == 10
    assert merged["mode"] == c.DEFAULT_MODE
    assert merged["guidance_scale"] == c.DEFAULT_GUIDANCE_SCALE


def test_none_does_not_override_a_lower_layer():
    assert p.merge_layers({"prompt": None}, {"prompt": "lower"}) == {"prompt": "lower"}


def test_a_job_with_no_prompt_anywhere_uses_the_stack_default_prompt():
    merged = p.merge_layers({}, {}, p.stack_defaults({}))
    assert merged["prompt"] == c.DEFAULT_PROMPT


values = st.one_of(st.none(), st.integers(), st.text(max_size=5), st.floats(allow_nan=False))
layer = st.dictionaries(st.sampled_from(p.PARAM_KEYS), values, max_size=len(p.PARAM_KEYS))


@given(st.lists(layer, max_size=5))
def test_each_merged_value_comes_from_the_first_layer_that_sets_it(layers):
    merged = p.merge_layers(*layers)
    for key in p.PARAM_KEYS:
        setters = [lay[key] for lay in layers if lay.get(key) is not None]
        if setters:
            assert merged[key] == setters[0]
        else:
            assert key not in merged


def test_stack_defaults_take_overrides_and_refuse_unknown_keys():
    assert p.stack_defaults({"prompt": "house style"})["prompt"] == "house style"
    assert p.stack_defaults({"prompt": "house style"})["mode"] == c.DEFAULT_MODE
    with pytest.raises(InvalidParameters) as info:
        p.stack_defaults({"end_image": "x.png", "colour": "red"})
    assert info.value.code == "INVALID_STACK_DEFAULTS"
    assert "colour" in info.value.message and "end_image" in info.value.message


# --- metadata -----------------------------------------------------------------------------------


def test_metadata_names_map_to_canonical_parameters():
    out = p.from_metadata(
        {
            "prompt": "a cat",
            "negative-prompt": "blur",
            "mode": "Professional",
            "duration": "10",
            "guidance-scale": "0.7",
            "end-image": "_frames/end.png",
            "camera": "ignored",
        }
    )
    assert out == {
        "prompt": "a cat",
        "negative_prompt": "blur",
        "mode": "Professional",
        "duration": "10",
        "guidance_scale": "0.7",
        "end_image": "_frames/end.png",
    }


def test_metadata_names_are_case_insensitive():
    assert p.from_metadata({"Prompt": "x", "NEGATIVE-PROMPT": "y"}) == {"prompt": "x", "negative_prompt": "y"}


def test_non_ascii_metadata_arrives_rfc2047_encoded_and_is_decoded():
    encoded = "=?UTF-8?B?" + base64.b64encode("un chat sur la plage ☀ 猫".encode()).decode() + "?="
    assert p.from_metadata({"prompt": encoded}) == {"prompt": "un chat sur la plage ☀ 猫"}


def test_quoted_printable_encoded_words_are_decoded():
    assert p.from_metadata({"prompt": "=?utf-8?q?caf=C3=A9?="}) == {"prompt": "café"}


@pytest.mark.parametrize("text", ["ascii stays", "café ☕ 猫", "a =? b ?= c"])
def test_metadata_encoding_round_trips(text):
    assert p.decode_metadata_value(p.encode_metadata_value(text)) == text


def test_ascii_metadata_is_written_as_is():
    assert p.encode_metadata_value("plain prompt") == "plain prompt"


def test_malformed_encoded_words_are_kept_verbatim():
    assert p.decode_metadata_value("=?bogus-charset?B?////?=") == "=?bogus-charset?B?////?="


# --- job and defaults files ---------------------------------------------------------------------


def test_a_job_file_parses_to_its_object():
    raw = json.dumps({"image": "cat.png", "prompt": "p", "duration": 10}).encode()
    assert p.parse_json_object(raw, "job file uploads/j.json", allowed=p.JOB_FILE_KEYS) == {
        "image": "cat.png",
        "prompt": "p",
        "duration": 10,
    }


def test_a_byte_order_mark_is_accepted():
    raw = '\ufeff{"image": "cat.png"}'.encode()
    assert p.parse_json_object(raw, "job file", allowed=p.JOB_FILE_KEYS) == {"image": "cat.png"}


@pytest.mark.parametrize("raw", [b"not json", b'{"image": ', b"\xff\xfe\x00garbage"])
def test_a_file_that_is_not_json_is_refused(raw):
    with pytest.raises(InvalidJobFile) as info:
        p.parse_json_object(raw, "job file uploads/j.json", allowed=p.JOB_FILE_KEYS)
    assert info.value.code == "INVALID_JOB_FILE"
    assert "uploads/j.json" in info.value.message
    assert "not valid JSON" in info.value.message and "expected a JSON object" in info.value.message


@pytest.mark.parametrize("raw, kind", [(b"[1, 2]", "list"), (b'"cat.png"', "str"), (b"42", "int")])
def test_a_file_that_is_not_an_object_is_refused(raw, kind):
    with pytest.raises(InvalidJobFile) as info:
        p.parse_json_object(raw, "job file", allowed=p.JOB_FILE_KEYS)
    assert info.value.code == "INVALID_JOB_FILE"
    assert kind in info.value.message and "expected a JSON object" in info.value.message


def test_unknown_keys_are_named_in_the_message():
    raw = json.dumps({"image": "cat.png", "promt": "typo", "seed": 1}).encode()
    with pytest.raises(InvalidJobFile) as info:
        p.parse_json_object(raw, "job file uploads/j.json", allowed=p.JOB_FILE_KEYS)
    assert info.value.code == "JOB_FILE_UNKNOWN_KEYS"
    assert "promt" in info.value.message and "seed" in info.value.message
    assert "expected only" in info.value.message and "prompt" in info.value.message


def test_unknown_keys_in_a_defaults_file_keep_the_defaults_error_code():
    class DefaultsError(InvalidJobFile):
        code = "INVALID_DEFAULTS_FILE"

    with pytest.raises(DefaultsError) as info:
        p.parse_json_object(
            b'{"image": "x.png"}', "defaults file", allowed=p.DEFAULTS_FILE_KEYS, error=DefaultsError
        )
    assert info.value.code == "INVALID_DEFAULTS_FILE"
    assert "image" in info.value.message


def test_a_file_over_64_kib_is_refused_before_parsing():
    raw = json.dumps({"prompt": "x" * (p.MAX_JOB_FILE_BYTES)}).encode()
    with pytest.raises(InvalidJobFile) as info:
        p.parse_json_object(raw, "job file", allowed=p.JOB_FILE_KEYS)
    assert str(p.MAX_JOB_FILE_BYTES) in info.value.message and "at most" in info.value.message


def test_a_file_of_exactly_64_kib_is_accepted():
    doc = {"prompt": ""}
    doc["prompt"] = "x" * (p.MAX_JOB_FILE_BYTES - len(json.dumps(doc)))
    raw = json.dumps(doc).encode()
    assert len(raw) == p.MAX_JOB_FILE_BYTES
    assert p.parse_json_object(raw, "job file", allowed=p.JOB_FILE_KEYS) == doc


def test_canonical_request_names_the_end_image_key():
    params = p.JobParams(
        mode="Professional",
        prompt="p",
        negative_prompt=None,
        duration=5,
        guidance_scale=0.5,
        end_image="uploads/_frames/end.png",
    )
    assert p.canonical_request(params) == {
        "mode": "Professional",
        "prompt": "p",
        "negative_prompt": None,
        "duration": 5,
        "guidance_scale": 0.5,
        "end_image_key": "uploads/_frames/end.png",
    }
