"""`i2v local`'s flags checked with the pipeline's own rules before anything starts (i2v_local/checks.py)."""

from __future__ import annotations

import pytest

from i2v_local.checks import BASELINE, canonical_mode, flag_problems, validate_params


def test_a_good_set_of_flags_has_no_problem():
    assert flag_problems({"mode": "Professional", "duration": 10, "guidance_scale": 0.2, "prompt": "spin",
                          "negative_prompt": ""}, with_end_image=True) == []


def test_every_bad_flag_is_reported_with_its_fix():
    problems = flag_problems({"mode": "turbo", "duration": 7, "guidance_scale": 1.5, "prompt": " "},
                             with_end_image=False)
    assert len(problems) == 4, problems
    mode, duration, guidance, prompt = problems
    assert mode.startswith("`--mode turbo`") and "`--mode Professional`" in mode
    assert duration.startswith("`--duration 7`") and "`--duration 5` or `--duration 10`" in duration
    assert guidance.startswith("`--guidance-scale 1.5`") and "`--guidance-scale 0.5`" in guidance
    assert prompt.startswith("`--prompt ' '`")


def test_the_rule_text_is_the_pipelines_own():
    with pytest.raises(Exception) as caught:
        validate_params({**BASELINE, "duration": 7})
    (problem,) = flag_problems({"duration": 7}, with_end_image=False)
    assert caught.value.message in problem


def test_an_end_frame_without_professional_says_add_mode_professional():
    (problem,) = flag_problems({}, with_end_image=True)
    assert "add `--mode Professional`" in problem
    assert "Standard (the default)" in problem and "_frames" not in problem  # no internal key
    (problem,) = flag_problems({"mode": "Standard"}, with_end_image=True)
    assert "the mode is Standard;" in problem or "the mode is Standard." in problem


@pytest.mark.parametrize("typed, expected", [("professional", "Professional"), ("STANDARD", "Standard"),
                                             (" Professional ", "Professional"), ("turbo", "turbo"), (None, None)])
def test_modes_in_any_case(typed, expected):
    assert canonical_mode(typed) == expected
