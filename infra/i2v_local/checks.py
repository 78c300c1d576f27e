"""`i2v local`'s flags checked with the pipeline's own rules before anything starts.

The rules are not repeated here: each flag is run through the pipeline's `validate_params` on its
own, so every bad flag is reported at once, each with the flag to type instead.
"""

from __future__ import annotations

from typing import Any

from i2v import constants as c

try:  # the pipeline's pure rules module (i2v.contracts); before it existed, the rules lived in i2v.jobs
    from i2v.contracts import validate_params
except ImportError:
    try:
        from i2v.contracts.params import validate_params
    except ImportError:
        from i2v.jobs.validate import validate_params

FLAGS = {"mode": "--mode", "prompt": "--prompt", "negative_prompt": "--negative-prompt", "duration": "--duration",
         "guidance_scale": "--guidance-scale", "end_image": "--end-image"}
FIXES = {  # error code -> what to type instead
    "INVALID_MODE": "use `--mode Standard` or `--mode Professional` (any case)",
    "INVALID_PROMPT": f"give `--prompt` 1 to {c.PROMPT_MAX} characters (a longer one goes in a .json job file)",
    "INVALID_NEGATIVE_PROMPT": f"give `--negative-prompt` at most {c.PROMPT_MAX} characters",
    "INVALID_DURATION": "use `--duration 5` or `--duration 10`",
    "INVALID_GUIDANCE_SCALE": "use a number from 0 to 1, e.g. `--guidance-scale 0.5`",
    "END_IMAGE_REQUIRES_PROFESSIONAL": "add `--mode Professional`",
    "INVALID_END_IMAGE": "give `--end-image` a JPEG or PNG file",
}
# a valid job that each flag is tried against, alone
BASELINE = {"mode": c.DEFAULT_MODE, "prompt": c.DEFAULT_PROMPT, "duration": c.DEFAULT_DURATION,
            "guidance_scale": c.DEFAULT_GUIDANCE_SCALE}
END_FRAME_PLACEHOLDER = "_frames/end.png"


def canonical_mode(text: str | None) -> str | None:
    """`professional` -> `Professional`; anything else is returned as typed, for the rules to judge."""
    if text is None:
        return None
    return {mode.lower(): mode for mode in c.MODES}.get(text.strip().lower(), text)


def flag_problems(params: dict[str, Any], with_end_image: bool) -> list[str]:
    """One line per flag the pipeline would refuse: the flag as typed, the rule, the fix."""
    problems = []
    for name, value in params.items():
        if value is not None:
            problem = _problem(name, value, {**BASELINE, name: value})
            if problem:
                problems.append(problem)
    mode = params.get("mode") or c.DEFAULT_MODE
    if with_end_image and mode in c.MODES:
        told = f"the mode is {mode}" + ("" if params.get("mode") else " (the default)")
        problem = _problem("end_image", None, {**BASELINE, "mode": mode, "end_image": END_FRAME_PLACEHOLDER},
                           rule=f"an end frame needs mode Professional and {told}")
        if problem:
            problems.append(problem)
    return problems


def _problem(name: str, value: Any, job: dict[str, Any], rule: str | None = None) -> str | None:
    try:
        validate_params(job)
    except Exception as exc:  # the pipeline's InvalidParameters, wherever it lives
        code = getattr(exc, "code", None)
        if code is None:
            raise
        rule = rule or str(getattr(exc, "message", exc)).replace(" (case-sensitive)", "")
        typed = FLAGS[name] if value is None else f"{FLAGS[name]} {_shown(value)}"
        fix = FIXES.get(code, f"change {FLAGS[name]}")
        return f"`{typed}`: {rule}. Fix: {fix}"
    return None


def _shown(value: Any) -> str:
    text = str(value)
    if len(text) > 40:
        text = text[:37] + "..."
    return repr(text) if (not text or " " in text) else text
