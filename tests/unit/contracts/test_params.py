"""The parameter rules the functions, the CDK app and the command line share (i2v.contracts.params)."""

from __future__ import annotations

import json
import math
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from i2v import constants as c
from i2v.contracts import params as p
from i2v.contracts.errors import DOCUMENTED_CODES, InvalidParameters
from i2v.contracts.status import Priority
from support import SCHEMA_PATH

GOOD = {"mode": "Standard", "prompt": "a cat", "duration": 5, "guidance_scale": 0.5}


def rejected(**changes) -> InvalidParameters:
    with pytest.raises(InvalidParameters) as info:
        p.validate_params({**GOOD, **changes})
    return info.value


def refused_as_stack_defaults(**overrides) -> InvalidParameters:
    with pytest.raises(InvalidParameters) as info:
        p.stack_defaults(overrides)
    return info.value


# --- validate_params: good parameters -------------------------------------------------------------


def test_good_parameters_come_back_typed():
    params = p.validate_params({**GOOD, "duration": "10", "guidance_scale": "0.25", "negative_prompt": "blur"})
    assert params == p.JobParams(mode="Standard", prompt="a cat", negative_prompt="blur", duration=10,
                                 guidance_scale=0.25, end_image=None, priority=Priority.NORMAL)


def test_missing_optional_parameters_take_the_provider_defaults():
    params = p.validate_params({"prompt": "a cat"})
    assert (params.mode, params.duration, params.guidance_scale, params.priority) == (
        "Standard", 5, 0.5, Priority.NORMAL)
    assert params.negative_prompt is None and params.end_image is None


def test_an_empty_negative_prompt_means_none():
    assert p.validate_params({**GOOD, "negative_prompt": ""}).negative_prompt is None


@pytest.mark.parametrize("mode, canonical", [("standard", "Standard"), ("PROFESSIONAL", "Professional"),
                                             (" Professional ", "Professional"), ("sTaNdArD", "Standard")])
def test_mode_is_accepted_in_any_case_and_comes_back_canonical(mode, canonical):
    assert p.validate_params({**GOOD, "mode": mode}).mode == canonical


@pytest.mark.parametrize("priority, expected", [("high", Priority.HIGH), ("HIGH", Priority.HIGH),
                                                (" Low ", Priority.LOW), ("Normal", Priority.NORMAL)])
def test_priority_is_accepted_in_any_case(priority, expected):
    params = p.validate_params({**GOOD, "priority": priority})
    assert params.priority is expected
    assert params.request()["priority"] == expected.value


def test_the_request_is_the_notifications_request_object():
    params = p.JobParams(mode="Professional", prompt="p", negative_prompt=None, duration=5, guidance_scale=0.5,
                         end_image="uploads/_frames/end.png", priority=Priority.LOW)
    assert params.request() == {"mode": "Professional", "prompt": "p", "negative_prompt": None, "duration": 5,
                                "guidance_scale": 0.5, "end_image_key": "uploads/_frames/end.png",
                                "priority": "low", "reuse": True}


# --- validate_params: each rule ---------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["Pro", "", "Standard Professional", None, 1, ["Standard"]])
def test_mode_must_be_standard_or_professional(mode):
    err = rejected(mode=mode)
    assert err.code == "INVALID_MODE"
    assert err.message.startswith(f"mode is {mode!r}")
    assert "expected one of Standard, Professional" in err.message


@pytest.mark.parametrize("prompt", ["", "   ", "\t\n", None, 42])
def test_prompt_must_not_be_empty(prompt):
    err = rejected(prompt=prompt)
    assert err.code == "INVALID_PROMPT"
    assert err.message.startswith("prompt is ") and "1 to 2000 characters" in err.message


def test_prompt_of_2001_characters_is_too_long():
    err = rejected(prompt="x" * 2001)
    assert err.code == "INVALID_PROMPT"
    assert "2001" in err.message and "expected 1 to 2000" in err.message


def test_prompt_of_exactly_2000_characters_passes():
    assert len(p.validate_params({**GOOD, "prompt": "x" * 2000}).prompt) == 2000


@pytest.mark.parametrize("name, code", [("prompt", "INVALID_PROMPT"), ("negative_prompt", "INVALID_NEGATIVE_PROMPT")])
def test_a_lone_surrogate_is_refused_not_crashed_on(name, code):
    text = json.loads('"a cat \\ud800 on a skateboard"')  # what a JSON job file can hold
    err = rejected(**{name: text})
    assert err.code == code
    assert "lone surrogate" in err.message and "expected UTF-8 text" in err.message
    err.message.encode("utf-8")  # the message itself can be published


@pytest.mark.parametrize("negative", ["x" * 2001, 7, ["a"]])
def test_negative_prompt_rules(negative):
    err = rejected(negative_prompt=negative)
    assert err.code == "INVALID_NEGATIVE_PROMPT"
    assert "expected" in err.message and "2000" in err.message


def test_negative_prompt_of_2000_characters_passes():
    assert len(p.validate_params({**GOOD, "negative_prompt": "n" * 2000}).negative_prompt) == 2000


@pytest.mark.parametrize("duration", [7, "x", True, False, 5.5, "", None, 0, -5, "10.0", "5s", math.nan, math.inf,
                                      10**400, "1" * 5000])
def test_duration_must_be_5_or_10(duration):
    err = rejected(duration=duration)
    assert err.code == "INVALID_DURATION"
    assert "expected one of 5, 10" in err.message
    assert len(err.message) < 200  # a huge value is cut short in the message


@pytest.mark.parametrize("duration", ["²", "⁵", "١٠", "５", "১০"])
def test_duration_in_non_ascii_digits_is_refused_without_crashing(duration):
    assert duration.strip().isdigit() or duration.isnumeric()  # what str.isdigit() alone would let through
    err = rejected(duration=duration)
    assert err.code == "INVALID_DURATION"
    assert repr(duration) in err.message


@pytest.mark.parametrize("duration, expected", [(5, 5), (10, 10), ("5", 5), (" 10 ", 10), ("+5", 5), (10.0, 10)])
def test_duration_accepts_integers_in_any_plain_form(duration, expected):
    assert p.validate_params({**GOOD, "duration": duration}).duration == expected


@pytest.mark.parametrize("scale", [1.5, -0.1, math.nan, "nan", "NaN", math.inf, "inf", "abc", True, None, [0.5],
                                   json.loads("1e400"), "1e400", 10**400, "0." + "5" * 100])
def test_guidance_scale_must_be_a_number_from_0_to_1(scale):
    err = rejected(guidance_scale=scale)
    assert err.code == "INVALID_GUIDANCE_SCALE"
    assert "expected a number from 0 to 1" in err.message
    assert len(err.message) < 200


@pytest.mark.parametrize("scale, expected", [(0, 0.0), (1, 1.0), ("0.3", 0.3), (0.0, 0.0), (1.0, 1.0), (" 1 ", 1.0)])
def test_guidance_scale_boundaries_pass(scale, expected):
    assert p.validate_params({**GOOD, "guidance_scale": scale}).guidance_scale == expected


@pytest.mark.parametrize("priority", ["urgent", "", "highest", 1, None, True, ["high"]])
def test_priority_must_be_high_normal_or_low(priority):
    err = rejected(priority=priority)
    assert err.code == "INVALID_PRIORITY"
    assert err.message == f"priority is {priority!r}; expected one of high, normal, low"


@pytest.mark.parametrize("reuse, expected", [(True, True), (False, False), ("true", True), ("FALSE", False),
                                           (" yes ", True), ("no", False), ("1", True), ("0", False), ("On", True),
                                           ("off", False)])
def test_reuse_is_true_or_false_as_json_or_as_metadata_text(reuse, expected):
    params = p.validate_params({**GOOD, "reuse": reuse})
    assert params.reuse is expected
    assert params.request()["reuse"] is expected


def test_reuse_is_on_unless_asked_otherwise():
    assert p.validate_params(GOOD).reuse is True
    assert p.JobParams(mode="Standard", prompt="p", negative_prompt=None, duration=5, guidance_scale=0.5,
                       end_image=None).reuse is True


@pytest.mark.parametrize("reuse", ["maybe", "", "tru", 1, 0, 1.0, None, ["true"], {"reuse": True}])
def test_reuse_must_be_true_or_false(reuse):
    err = rejected(reuse=reuse)
    assert err.code == "INVALID_REUSE"
    assert err.message == f"reuse is {reuse!r}; expected true or false"


def test_the_content_request_is_what_the_provider_sees():
    params = p.validate_params({**GOOD, "negative_prompt": "blur", "priority": "high", "reuse": False,
                                "mode": "Professional", "end_image": "uploads/e.png"})
    assert params.content_request() == {"mode": "Professional", "prompt": "a cat", "negative_prompt": "blur",
                                        "duration": 5, "guidance_scale": 0.5}


def test_reuse_may_be_set_by_a_defaults_file_and_the_stack():
    assert "reuse" in p.DEFAULTS_FILE_KEYS and "reuse" in p.JOB_FILE_KEYS
    assert p.stack_defaults({"reuse": "false"})["reuse"] is False
    err = refused_as_stack_defaults(reuse="sometimes")
    assert err.code == "INVALID_STACK_DEFAULTS" and err.message.startswith("stack defaults: reuse is 'sometimes'")


def test_end_image_requires_professional():
    err = rejected(end_image="uploads/end.png")
    assert err.code == "END_IMAGE_REQUIRES_PROFESSIONAL"
    assert "Professional" in err.message and "uploads/end.png" in err.message and "Standard" in err.message


def test_end_image_with_professional_passes():
    params = p.validate_params({**GOOD, "mode": "professional", "end_image": "uploads/end.png"})
    assert params.end_image == "uploads/end.png"


@pytest.mark.parametrize("end", ["  ", 3, ["uploads/end.png"]])
def test_end_image_must_be_a_key(end):
    err = rejected(mode="Professional", end_image=end)
    assert err.code == "INVALID_END_IMAGE"
    assert "expected the key of a JPEG or PNG" in err.message


def nested(depth: int) -> list:
    value: list = []
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize("name, code", [("mode", "INVALID_MODE"), ("prompt", "INVALID_PROMPT"),
                                        ("negative_prompt", "INVALID_NEGATIVE_PROMPT"),
                                        ("duration", "INVALID_DURATION"), ("guidance_scale", "INVALID_GUIDANCE_SCALE"),
                                        ("priority", "INVALID_PRIORITY"), ("end_image", "INVALID_END_IMAGE"),
                                        ("reuse", "INVALID_REUSE")])
def test_a_value_nested_deeper_than_repr_can_go_is_refused_not_crashed_on(name, code):
    # json.loads takes nesting almost as deep as the recursion limit; the rules run further down the
    # stack (handler, intake, prepare), where repr() of the same value would overflow it.
    value = nested(sys.getrecursionlimit())
    err = rejected(**{"mode": "Professional", name: value})
    assert err.code == code
    assert "<a list nested too deeply or too long to show>" in err.message
    shown = p.shown_request({name: value})
    assert shown["end_image_key" if name == "end_image" else name] == "<a list nested too deeply or too long to show>"


def test_an_int_too_long_to_print_is_refused_not_crashed_on():
    huge = 10**5000  # more digits than int -> str allows
    err = rejected(duration=huge)
    assert err.code == "INVALID_DURATION"
    assert "<a int nested too deeply or too long to show>" in err.message
    assert p.shown_request({"duration": huge})["duration"] == "<a int nested too deeply or too long to show>"


# --- problems: every broken rule at once ------------------------------------------------------------


def test_problems_reports_every_broken_rule_in_a_stable_order():
    found = p.problems({"mode": "Fast", "prompt": " ", "negative_prompt": 3, "duration": 7, "guidance_scale": 2,
                        "priority": "urgent", "reuse": "maybe", "end_image": 5})
    assert [e.code for e in found] == ["INVALID_MODE", "INVALID_PROMPT", "INVALID_NEGATIVE_PROMPT", "INVALID_DURATION",
                                       "INVALID_GUIDANCE_SCALE", "INVALID_PRIORITY", "INVALID_REUSE",
                                       "INVALID_END_IMAGE"]
    assert all(isinstance(e, InvalidParameters) for e in found)


def test_problems_of_good_parameters_is_empty():
    assert p.problems(GOOD) == []
    assert p.problems({**GOOD, "mode": "Professional", "end_image": "uploads/e.png"}) == []


def test_the_end_frame_rule_is_reported_only_when_the_rest_is_valid():
    assert [e.code for e in p.problems({**GOOD, "end_image": "uploads/e.png"})] == ["END_IMAGE_REQUIRES_PROFESSIONAL"]
    assert [e.code for e in p.problems({**GOOD, "duration": 7, "end_image": "uploads/e.png"})] == ["INVALID_DURATION"]


def test_validate_params_raises_the_first_problem():
    err = rejected(prompt="", duration=7)
    assert err.code == "INVALID_PROMPT"


# --- merge_layers ------------------------------------------------------------------------------------


def test_the_first_layer_that_sets_a_value_wins():
    own = {"prompt": "from metadata"}
    folder = {"prompt": "from folder", "duration": 10}
    merged = p.merge_layers(own, folder, p.stack_defaults({}))
    assert merged["prompt"] == "from metadata"
    assert merged["duration"] == 10
    assert merged["mode"] == c.DEFAULT_MODE
    assert merged["guidance_scale"] == c.DEFAULT_GUIDANCE_SCALE
    assert merged["priority"] == "normal"


def test_none_does_not_override_a_lower_layer():
    assert p.merge_layers({"prompt": None}, {"prompt": "lower"}) == {"prompt": "lower"}


def test_a_job_with_no_prompt_anywhere_uses_the_stack_default_prompt():
    assert p.merge_layers({}, {}, p.stack_defaults({}))["prompt"] == c.DEFAULT_PROMPT


merge_values = st.one_of(st.none(), st.integers(), st.text(max_size=5), st.floats(allow_nan=False))
layer = st.dictionaries(st.sampled_from(p.PARAM_KEYS), merge_values, max_size=len(p.PARAM_KEYS))


@given(st.lists(layer, max_size=5))
def test_each_merged_value_comes_from_the_first_layer_that_sets_it(layers):
    merged = p.merge_layers(*layers)
    for key in p.PARAM_KEYS:
        setters = [lay[key] for lay in layers if lay.get(key) is not None]
        if setters:
            assert merged[key] == setters[0]
        else:
            assert key not in merged


# --- stack_defaults: the CDK app's check, the same rules -----------------------------------------------


def test_no_overrides_give_the_built_in_defaults():
    assert p.stack_defaults({}) == {"mode": c.DEFAULT_MODE, "prompt": c.DEFAULT_PROMPT, "duration": c.DEFAULT_DURATION,
                                    "guidance_scale": c.DEFAULT_GUIDANCE_SCALE, "priority": "normal",
                                    "reuse": True}


def test_stack_defaults_take_overrides():
    assert p.stack_defaults({"prompt": "house style"})["prompt"] == "house style"
    assert p.stack_defaults({"prompt": "house style"})["mode"] == c.DEFAULT_MODE


def test_stack_defaults_refuse_unknown_keys_and_the_end_image():
    err = refused_as_stack_defaults(end_image="x.png", colour="red")
    assert err.code == "INVALID_STACK_DEFAULTS"
    assert "colour" in err.message and "end_image" in err.message and "expected only" in err.message


def test_a_stack_default_prompt_of_only_spaces_is_refused():
    err = refused_as_stack_defaults(prompt="   ")
    assert err.code == "INVALID_STACK_DEFAULTS"
    assert err.message == "stack defaults: prompt is empty or only spaces; expected 1 to 2000 characters"


@pytest.mark.parametrize("overrides, rule", [({"mode": "Fast"}, "mode is 'Fast'"),
                                             ({"duration": 7}, "duration is 7"),
                                             ({"guidance_scale": "nan"}, "guidance_scale is 'nan'"),
                                             ({"priority": "urgent"}, "priority is 'urgent'"),
                                             ({"negative_prompt": 3}, "negative_prompt is 3")])
def test_stack_defaults_that_would_fail_every_job_are_refused(overrides, rule):
    err = refused_as_stack_defaults(**overrides)
    assert err.code == "INVALID_STACK_DEFAULTS"
    assert err.message.startswith(f"stack defaults: {rule}")


def test_stack_defaults_accept_what_a_job_accepts_and_come_back_canonical():
    assert p.stack_defaults({"duration": 10.0, "negative_prompt": None, "mode": "professional", "priority": "LOW",
                             "guidance_scale": "0.25"}) == {
        "mode": "Professional", "prompt": c.DEFAULT_PROMPT, "duration": 10, "guidance_scale": 0.25,
        "priority": "low", "reuse": True}


def test_a_stack_default_negative_prompt_is_kept():
    assert p.stack_defaults({"negative_prompt": "blur"})["negative_prompt"] == "blur"


def test_canonical_stack_defaults_pass_again_unchanged():
    once = p.stack_defaults({"mode": "professional", "duration": "10", "priority": "High"})
    assert p.stack_defaults(once) == once


# --- shown_request: what a failure notification shows -------------------------------------------------


def test_shown_request_keeps_what_was_asked_even_when_it_breaks_the_rules():
    shown = p.shown_request({"mode": "Fast", "prompt": "a cat", "duration": "7", "guidance_scale": math.inf,
                             "priority": True, "end_image": "uploads/e.png"})
    assert shown == {"mode": "Fast", "prompt": "a cat", "negative_prompt": None, "duration": "7",
                     "guidance_scale": "inf", "priority": "true", "end_image_key": "uploads/e.png", "reuse": None}


@pytest.mark.parametrize("value, shown", [(42, "42"), (0.5, "0.5"), (math.nan, "nan"), (10**400, None),
                                          (["a"], "['a']"), ({"k": 1}, "{'k': 1}"), (False, "false")])
def test_shown_request_gives_text_fields_as_text(value, shown):
    request = p.shown_request({name: value for name in ("mode", "prompt", "negative_prompt", "priority",
                                                          "end_image")})
    for name in ("mode", "prompt", "negative_prompt", "priority", "end_image_key"):
        assert isinstance(request[name], str)  # the notification schema types them string or null
        assert shown is None or request[name] == shown


def test_shown_request_keeps_numbers_where_numbers_belong():
    shown = p.shown_request({"duration": 7, "guidance_scale": 1.5})
    assert (shown["duration"], shown["guidance_scale"]) == (7, 1.5)


def test_shown_request_is_always_json_and_utf_8():
    shown = p.shown_request({"prompt": json.loads('"\\ud800x"'), "duration": 10**400, "guidance_scale": math.nan,
                             "negative_prompt": ["a", {"b": 1}], "mode": "x" * 10_000})
    json.dumps(shown, ensure_ascii=False, allow_nan=False).encode("utf-8")
    assert len(shown["mode"]) <= 2 * c.PROMPT_MAX
    assert shown["duration"].endswith("...")


# --- never anything but InvalidParameters with a documented code ------------------------------------

json_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.integers(min_value=-10**400, max_value=10**400),
                         st.floats(), st.text(), st.text(st.characters(codec=None, categories=["Cs", "Nd", "No"])),
                         st.sampled_from(["Standard", "professional", "5", " 10 ", "0.5", "high", "LOW", "", " "]))
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(st.text(max_size=5), inner, max_size=3), max_leaves=8)


REQUEST_SCHEMA = Draft202012Validator(json.loads(SCHEMA_PATH.read_text())["properties"]["request"])


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(st.sampled_from(p.PARAM_KEYS), json_values))
def test_any_json_values_give_job_params_or_a_documented_invalid_parameters(merged):
    REQUEST_SCHEMA.validate(p.shown_request(merged))  # what a failure notification shows fits the contract
    found = p.problems(merged)
    try:
        params = p.validate_params(merged)
    except InvalidParameters as exc:
        assert exc.code in DOCUMENTED_CODES
        assert exc.code == found[0].code  # the first of every problem the command line would list
        assert exc.message and exc.detail.to_dict()["stage"] == "validate"
        json.dumps(exc.detail.to_dict(), ensure_ascii=False).encode("utf-8")  # publishable as is
    else:
        assert found == []
        assert isinstance(params, p.JobParams)
        assert params.mode in c.MODES and params.duration in c.DURATIONS
        assert 0.0 <= params.guidance_scale <= 1.0
        assert params.priority in Priority
        json.dumps(params.request(), allow_nan=False)
        REQUEST_SCHEMA.validate(params.request())


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(p.PARAM_KEYS), json_values))
def test_stack_defaults_never_fail_with_anything_but_invalid_stack_defaults(overrides):
    try:
        p.stack_defaults(overrides)
    except InvalidParameters as exc:
        assert exc.code == "INVALID_STACK_DEFAULTS"
