"""Where job parameters come from: S3 user metadata and job or defaults files (i2v.jobs.params).

How the layers merge and which values are valid are contracts: tests/unit/contracts/test_params.py.
"""

from __future__ import annotations

import base64
import json
from email.header import Header

import pytest
from hypothesis import given
from hypothesis import strategies as st

from i2v.contracts.errors import DefaultsFileError, ErrorCode, InvalidJobFile, InvalidParameters
from i2v.contracts.params import DEFAULTS_FILE_KEYS, JOB_FILE_KEYS
from i2v.jobs import params as p

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
            "priority": "high",
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
        "priority": "high",
    }


def test_metadata_names_are_case_insensitive():
    assert p.from_metadata({"Prompt": "x", "NEGATIVE-PROMPT": "y", "Priority": "low"}) == {
        "prompt": "x", "negative_prompt": "y", "priority": "low"}


def test_non_ascii_metadata_arrives_rfc2047_encoded_and_is_decoded():
    encoded = "=?UTF-8?B?" + base64.b64encode("un chat sur la plage ☀ 猫".encode()).decode() + "?="
    assert p.from_metadata({"prompt": encoded}) == {"prompt": "un chat sur la plage ☀ 猫"}


def test_quoted_printable_encoded_words_are_decoded():
    assert p.from_metadata({"prompt": "=?utf-8?q?caf=C3=A9?="}) == {"prompt": "café"}


def test_a_folded_value_of_several_encoded_words_is_unfolded_and_decoded():
    text = "un chat sur la plage au coucher du soleil ☀ 猫 " * 4
    folded = Header(text, "utf-8").encode()  # what a mail-style writer sends: words on continuation lines
    assert "\n " in folded
    assert p.decode_metadata_value(folded) == text
    assert p.decode_metadata_value(folded.replace("\n", "\r\n")) == text


@pytest.mark.parametrize("folded, plain", [("a long\r\n prompt", "a long prompt"),
                                           ("a long\n\tprompt", "a long prompt"),
                                           ("one\r\n  two\n three", "one two three")])
def test_a_folded_plain_value_is_unfolded(folded, plain):
    assert p.decode_metadata_value(folded) == plain
    assert p.from_metadata({"prompt": folded}) == {"prompt": plain}


def test_a_newline_without_a_continuation_is_not_folding():
    assert p.decode_metadata_value("line one\nline two") == "line one\nline two"


@pytest.mark.parametrize("text", ["ascii stays", "café ☕ 猫", "a =? b ?= c", "long ünïcödé " * 30])
def test_metadata_encoding_round_trips(text):
    encoded = p.encode_metadata_value(text)
    assert "\n" not in encoded  # never folded: S3 metadata values are one line
    assert p.decode_metadata_value(encoded) == text


def test_ascii_metadata_is_written_as_is():
    assert p.encode_metadata_value("plain prompt") == "plain prompt"


@pytest.mark.parametrize("value", ["=?bogus-charset?B?////?=", "=?utf-8?b?!!!notbase64?=", "=?utf-8?b?aMOpb?=",
                                   "=?utf-8?b?/w==?=", "=?x-unknown?q?abc?="])
def test_an_encoded_word_that_cannot_be_decoded_is_invalid_metadata(value):
    with pytest.raises(InvalidParameters) as caught:
        p.from_metadata({"Prompt": value})
    assert caught.value.code == ErrorCode.INVALID_METADATA
    assert "the metadata prompt" in caught.value.message and "=?UTF-8?B?" in caught.value.message


def test_text_that_only_looks_like_an_encoded_word_is_kept():
    assert p.decode_metadata_value("what=? and =?no") == "what=? and =?no"


@pytest.mark.parametrize("text", ["two\nlines é", "two\nlines", "cr\r\x80", "tab\there", "=?utf-8?q?hi?="])
def test_line_breaks_and_look_alike_encoded_words_survive_encoding(text):
    encoded = p.encode_metadata_value(text)
    assert encoded.isascii() and encoded.isprintable()  # a valid one-line header value
    assert p.decode_metadata_value(encoded) == text


@given(st.text(st.characters(codec="utf-8"), max_size=200))
def test_any_text_survives_encoding_for_metadata(text):
    encoded = p.encode_metadata_value(text)
    assert encoded.isascii() and encoded.isprintable()
    assert p.decode_metadata_value(encoded) == text


# --- job and defaults files ---------------------------------------------------------------------


def parse(raw: bytes, what: str = "job file uploads/j.json", allowed=JOB_FILE_KEYS, error=InvalidJobFile):
    return p.parse_json_object(raw, what, allowed=allowed, error=error)


def refused(raw: bytes, **kw) -> InvalidJobFile:
    with pytest.raises(InvalidJobFile) as info:
        parse(raw, **kw)
    return info.value


def test_a_job_file_parses_to_its_object():
    raw = json.dumps({"image": "cat.png", "prompt": "p", "duration": 10, "priority": "high"}).encode()
    assert parse(raw) == {"image": "cat.png", "prompt": "p", "duration": 10, "priority": "high"}


def test_a_byte_order_mark_is_accepted():
    assert parse('\ufeff{"image": "cat.png"}'.encode()) == {"image": "cat.png"}


@pytest.mark.parametrize("raw", [b"", b"   ", b"\n\t \r\n"])
def test_an_empty_file_is_refused_with_an_example(raw):
    err = refused(raw)
    assert err.code == "INVALID_JOB_FILE"
    assert err.message == ('job file uploads/j.json is empty; expected a JSON object such as '
                           '{"image": "cat.png", "prompt": "..."}')


def test_an_empty_defaults_file_keeps_the_defaults_error_code():
    err = refused(b"", what="defaults file uploads/_defaults.json", allowed=DEFAULTS_FILE_KEYS,
                  error=DefaultsFileError)
    assert isinstance(err, DefaultsFileError)
    assert err.code == "INVALID_DEFAULTS_FILE"
    assert "uploads/_defaults.json is empty" in err.message


@pytest.mark.parametrize("raw", [b"not json", b'{"image": ', b"\xff\xfe\x00garbage", b"\xef\xbb\xbf"])
def test_a_file_that_is_not_json_is_refused(raw):
    err = refused(raw)
    assert err.code == "INVALID_JOB_FILE"
    assert "uploads/j.json" in err.message
    assert "not valid JSON" in err.message and "expected a JSON object" in err.message


def test_nesting_100000_deep_is_refused_without_crashing():
    err = refused(b"[" * 100_000)
    assert err.code == "INVALID_JOB_FILE"
    assert "expected at most 65536 bytes" in err.message  # too big to be a job file at all


@pytest.mark.parametrize("raw", [b"[" * 60_000, b'{"prompt": ' + b"[" * 30_000 + b"]" * 30_000 + b"}"])
def test_nesting_deeper_than_the_parser_goes_is_refused_without_crashing(raw):
    assert len(raw) <= p.MAX_JOB_FILE_BYTES
    err = refused(raw)
    assert err.code == "INVALID_JOB_FILE"
    assert "not valid JSON (nested too deeply)" in err.message


def test_a_5000_digit_number_is_refused_without_crashing():
    err = refused(b'{"image": "cat.png", "duration": ' + b"9" * 5000 + b"}")
    assert err.code == "INVALID_JOB_FILE"
    assert "not valid JSON (a number has more than 4300 digits)" in err.message
    assert "sys." not in err.message  # no advice about Python settings for the uploader


def test_numbers_json_cannot_hold_exactly_still_parse():
    # 1e400 is infinity and NaN is accepted by Python's parser: the rules refuse them, not the parser
    assert parse(b'{"duration": 1e400, "guidance_scale": NaN}')["duration"] == float("inf")


@pytest.mark.parametrize("raw, kind", [(b"[1, 2]", "list"), (b'"cat.png"', "str"), (b"42", "int"), (b"null", "NoneType")])
def test_a_file_that_is_not_an_object_is_refused(raw, kind):
    err = refused(raw)
    assert err.code == "INVALID_JOB_FILE"
    assert f"holds a JSON {kind}" in err.message and "expected a JSON object" in err.message


def test_unknown_keys_are_named_in_the_message():
    err = refused(json.dumps({"image": "cat.png", "promt": "typo", "seed": 1}).encode())
    assert err.code == "JOB_FILE_UNKNOWN_KEYS"
    assert "'promt'" in err.message and "'seed'" in err.message
    assert "expected only" in err.message and "prompt" in err.message and "priority" in err.message


def test_unknown_keys_in_a_defaults_file_keep_the_defaults_error_code():
    err = refused(b'{"image": "x.png"}', what="defaults file", allowed=DEFAULTS_FILE_KEYS, error=DefaultsFileError)
    assert isinstance(err, DefaultsFileError)
    assert err.code == "INVALID_DEFAULTS_FILE"
    assert "image" in err.message


def test_a_defaults_file_may_set_the_priority():
    assert parse(b'{"priority": "low"}', allowed=DEFAULTS_FILE_KEYS, error=DefaultsFileError) == {"priority": "low"}


def test_a_file_over_64_kib_is_refused_before_parsing():
    err = refused(json.dumps({"prompt": "x" * p.MAX_JOB_FILE_BYTES}).encode())
    assert str(p.MAX_JOB_FILE_BYTES) in err.message and "at most" in err.message


def test_a_file_of_exactly_64_kib_is_accepted():
    doc = {"prompt": ""}
    doc["prompt"] = "x" * (p.MAX_JOB_FILE_BYTES - len(json.dumps(doc)))
    raw = json.dumps(doc).encode()
    assert len(raw) == p.MAX_JOB_FILE_BYTES
    assert parse(raw) == doc


def test_many_unknown_keys_give_a_bounded_message():
    raw = json.dumps({f"key{i:04d}" + "x" * 100: 1 for i in range(200)}).encode()
    err = refused(raw)
    assert err.code == "JOB_FILE_UNKNOWN_KEYS"
    assert len(err.message) < 1000
