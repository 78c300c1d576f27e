"""The run page: one static HTML file in the `--out` folder of `i2v demo` and `i2v local`, a gallery of every
job of the run (its input, its video playing, its notification; a failure's code, stage and message first).

One self-contained file: inline CSS, no script, no font or anything else fetched from the network; the
images and videos are linked by relative paths, so the page works opened from the folder, offline, or
served from it. Everything that comes from the user (keys, prompts, messages, the notification) is escaped.
"""

from __future__ import annotations

import html
import json
import os
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

from i2v_local.runner import JobView

PAGE_NAME = "index.html"
GENERATOR = "i2v run page"  # marks a page as ours: a later run may replace it, never someone else's index.html

SIMULATED_NOTE = ("<p class=\"note\"><strong>Simulated preview.</strong> These videos come from the local provider "
                  "simulator: a slow zoom over your image, made to test the pipeline, not the KLING model's video. "
                  "Point <code>i2v local --provider-url</code> at the real service for real ones.</p>")

_CSS = """
:root{--bg:#f6f7f9;--card:#fff;--ink:#1d2330;--muted:#5d6575;--line:#dfe3ea;--ok:#137a3d;--ok-bg:#e3f5ea;
--bad:#b42318;--bad-bg:#fdecea;--warn-bg:#fff7e0;--warn-line:#efc75e;--code-bg:#f1f3f6;--well:#eceff3}
@media (prefers-color-scheme:dark){:root{--bg:#14171c;--card:#1d2129;--ink:#e6e9ef;--muted:#9aa3b2;
--line:#313744;--ok:#5fd38d;--ok-bg:#173324;--bad:#ff8a80;--bad-bg:#3a1d1d;--warn-bg:#362c12;--warn-line:#7d6420;
--code-bg:#161a20;--well:#262b34}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,
"Helvetica Neue",Arial,sans-serif}
code,pre,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"Liberation Mono",monospace}
.top{padding:1.5rem 2rem 1rem;border-bottom:1px solid var(--line);background:var(--card)}
.top h1{margin:0;font-size:1.5rem}
.sub{margin:.2rem 0 0;color:var(--muted);font-size:.9rem;overflow-wrap:anywhere}
.counts{display:flex;gap:.5rem;flex-wrap:wrap;margin:.9rem 0 0;padding:0;list-style:none}
.counts li{padding:.25rem .75rem;border-radius:999px;background:var(--well);font-weight:600}
.counts .ok{background:var(--ok-bg);color:var(--ok)}
.counts .bad{background:var(--bad-bg);color:var(--bad)}
.note{margin:1rem 0 0;background:var(--warn-bg);border:1px solid var(--warn-line);padding:.6rem .9rem;
border-radius:8px;max-width:62rem}
.failures{margin:.8rem 0 0;display:flex;flex-wrap:wrap;gap:.3rem 1.2rem;padding:0;list-style:none;font-size:.9rem}
.failures .label{font-weight:600;color:var(--bad)}
.failures a{color:var(--bad)}
main{display:grid;grid-template-columns:repeat(auto-fill,minmax(min(100%,34rem),1fr));gap:1.25rem;padding:1.5rem 2rem}
.job{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:1rem 1.1rem;min-width:0}
.job.failed{border-top:4px solid var(--bad)}
.job.succeeded{border-top:4px solid var(--ok)}
.job.batch{border-top:4px solid var(--muted)}
.batch .badge{background:var(--well)}
.job h2{margin:0;font-size:1rem;display:flex;gap:.6rem;align-items:baseline;overflow-wrap:anywhere}
.badge{flex:none;font-size:.72rem;letter-spacing:.04em;padding:.1rem .5rem;border-radius:4px;font-weight:700}
.succeeded .badge{background:var(--ok-bg);color:var(--ok)}
.failed .badge{background:var(--bad-bg);color:var(--bad)}
.prompt{margin:.35rem 0 0;color:var(--muted);font-size:.9rem;overflow-wrap:anywhere}
.error{margin:.8rem 0 0;background:var(--bad-bg);border-left:4px solid var(--bad);border-radius:6px;padding:.6rem .8rem}
.error .code{font-size:1.1rem;font-weight:700;color:var(--bad)}
.error .stage{margin-left:.5rem;color:var(--muted);font-size:.85rem}
.error p{margin:.3rem 0 0;overflow-wrap:anywhere}
.media{display:grid;grid-template-columns:1fr 1fr;gap:.8rem;margin:.9rem 0 0}
figure{margin:0;min-width:0}
.frame{aspect-ratio:4/3;background:var(--well);border-radius:6px;display:flex;align-items:center;
justify-content:center;overflow:hidden}
.frame video{width:100%;height:100%;object-fit:contain;display:block}
.frame img{max-width:100%;max-height:100%;object-fit:contain;display:block}
.frame .none{color:var(--muted);font-size:.9rem;padding:1rem;text-align:center}
figcaption{margin:.3rem 0 0;color:var(--muted);font-size:.82rem;overflow-wrap:anywhere}
.facts{display:flex;flex-wrap:wrap;gap:.3rem 1rem;margin:.7rem 0 0;font-size:.85rem;color:var(--muted)}
.facts b{color:var(--ink);font-weight:600}
.facts a{color:inherit}
details{margin:.7rem 0 0;border-top:1px solid var(--line);padding-top:.5rem}
summary{cursor:pointer;font-weight:600;font-size:.9rem}
pre{margin:.5rem 0 0;background:var(--code-bg);border:1px solid var(--line);border-radius:6px;padding:.7rem;
overflow:auto;max-height:28rem;font-size:.78rem;line-height:1.45}
footer{padding:0 2rem 2rem;color:var(--muted);font-size:.85rem}
"""


def page_path(out_dir: Path) -> Path:
    """Where the page goes: `index.html`, unless that is a file this program did not write (then a name beside)."""
    for n in range(100):
        path = out_dir / (PAGE_NAME if n == 0 else f"i2v-run{'' if n == 1 else f'-{n}'}.html")
        if not path.exists() or _is_ours(path):
            return path
    raise FileExistsError(f"{out_dir} holds 100 pages this program did not write; choose another --out folder")


def _is_ours(path: Path) -> bool:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return f'<meta name="generator" content="{GENERATOR}">' in fh.read(4096)
    except OSError:
        return False


def write_page(out_dir: Path, views: list[JobView], inputs: dict[str, Path], simulated: bool = True,
               provider: str | None = None, title: str = "i2v run") -> Path:
    """Write the page for these jobs into out_dir and return its path. `inputs` maps an uploaded key to the
    copy of the file kept in the run's folder (the start and end frames are looked up there)."""
    page = page_path(out_dir)
    page.write_text(render_page(out_dir, views, inputs, simulated=simulated, provider=provider, title=title),
                    encoding="utf-8")
    return page


def render_page(out_dir: Path, views: list[JobView], inputs: dict[str, Path], simulated: bool = True,
                provider: str | None = None, title: str = "i2v run") -> str:
    notes = [view.notification or {} for view in views]
    batches = sum(_is_batch(note) for note in notes)
    jobs = len(views) - batches
    succeeded = sum(note.get("status") == "SUCCEEDED" for note in notes)
    failed = jobs - succeeded
    counts = [f"<li>{jobs} job{'s' if jobs != 1 else ''}</li>", f'<li class="ok">{succeeded} succeeded</li>']
    if failed:
        counts.append(f'<li class="bad">{failed} failed</li>')
    if batches:
        counts.append(f"<li>{batches} batch file{'s' if batches != 1 else ''}</li>")
    failures = "".join(
        f'<li><a href="#job-{i}">{_e(view.key)}</a>: <span class="mono">{_e(_error(note).get("code", "?"))}</span></li>'
        for i, (view, note) in enumerate(zip(views, notes, strict=True), 1)
        if note.get("status") != "SUCCEEDED" and not _is_batch(note))
    where = ("the local provider simulator" if simulated else f"the provider at {_e(provider)}" if provider
             else "the provider")
    context = dict(out_dir=out_dir, inputs=inputs, simulated=simulated, single=len(views) == 1)
    cards = "\n".join(_card(i, view, note, **context)
                      for i, (view, note) in enumerate(zip(views, notes, strict=True), 1))
    when = datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    heading = f"{title}: {jobs} job{'s' if jobs != 1 else ''}"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="generator" content="{GENERATOR}">
<meta name="viewport" content="width=device-width,initial-scale=1">
<link rel="icon" href="data:,">
<title>{_e(heading)}, {succeeded} succeeded, {failed} failed</title>
<style>{_CSS}</style>
</head><body>
<header class="top"><h1>{_e(title)}</h1>
<p class="sub">folder <code>{_e(os.fspath(out_dir))}</code> · {_e(when)} · videos from {where}</p>
<ul class="counts">{''.join(counts)}</ul>
{SIMULATED_NOTE if simulated else ''}
{f'<ul class="failures"><li class="label">failed:</li>{failures}</ul>' if failures else ''}
</header>
<main>
{cards}
</main>
<footer>Written by <code>{_e(title)}</code>. Each job's notification is also in its <code>.json</code> file beside
the video; <code>i2v jobs list --local {_e(os.fspath(out_dir))}</code> lists the run's jobs.</footer>
</body></html>
"""


def _card(i: int, view: JobView, note: dict, out_dir: Path, inputs: dict[str, Path], simulated: bool,
          single: bool) -> str:
    if _is_batch(note):
        return _batch_card(i, view, note, out_dir)
    ok = note.get("status") == "SUCCEEDED"
    status = note.get("status") or "NO NOTIFICATION"
    request = note.get("request") or {}
    image_path = inputs.get(request.get("image_key") or view.key)
    image = _file(image_path, out_dir)
    end_image = _file(inputs.get(request.get("end_image_key") or ""), out_dir)
    video = _file(view.video_path, out_dir)

    parts = [f'<article class="job {"succeeded" if ok else "failed"}" id="job-{i}">',
             f'<h2><span class="badge">{_e(status)}</span><span class="key mono">{_e(view.key)}</span></h2>']
    if request.get("prompt") is not None:
        parts.append(f'<p class="prompt">“{_e(request["prompt"])}”</p>')
    if not ok:
        error = _error(note)
        retry = "retryable" if error.get("retryable") else "not retryable"
        paid = "; nothing was paid" if error.get("stage") == "validate" else ""
        parts.append(f'<div class="error" role="alert"><span class="code mono">{_e(error.get("code", "NO_NOTIFICATION"))}'
                     f'</span><span class="stage">stage: {_e(error.get("stage", "?"))} · {retry}{paid}</span>'
                     f'<p>{_e(error.get("message", "the job sent no notification"))}</p></div>')

    image_html = (f'<img src="{image}" alt="input image {_e(view.key)}">' if image
                  else '<span class="none">no input image</span>')
    if video:
        poster = f' poster="{image}"' if image else ""
        video_html = (f'<video src="{video}"{poster} controls autoplay loop muted playsinline preload="auto">'
                      "</video>")
        caption = "video (simulated preview)" if simulated else "video"
    else:
        video_html = '<span class="none">no video</span>'
        caption = "video"
    end_html = (f'<figure><div class="frame"><img src="{end_image}" alt="end frame"></div>'
                f'<figcaption>end frame</figcaption></figure>' if end_image else "")
    parts.append('<div class="media">'
                 f'<figure><div class="frame">{image_html}</div><figcaption>input{_dimensions(image_path)}</figcaption></figure>'
                 f'<figure><div class="frame">{video_html}</div><figcaption>{caption}</figcaption></figure>'
                 f'{end_html}</div>')

    facts = [f"<span>{_e(label)} <b>{_e(value)}</b></span>" for label, value in (
        ("mode", request.get("mode")), ("duration", _unit(request.get("duration"), "s")),
        ("guidance", request.get("guidance_scale")), ("size", _size((note.get("output") or {}).get("size_bytes"))),
        ("took", _seconds((note.get("timings") or {}).get("total_seconds"))),
        ("cost", _usd((note.get("cost") or {}).get("estimated_usd"))), ("reused from", note.get("reused_from")))
        if value is not None]
    links = [f'<a href="{href}">{_e(name)}</a>' for href, name in (
        (video, view.video_path and view.video_path.name), (_file(view.manifest_path, out_dir),
                                                            view.manifest_path and view.manifest_path.name))
             if href]
    if links:
        facts.append(f"<span>files {' · '.join(links)}</span>")
    parts.append(f'<div class="facts">{"".join(facts)}</div>')
    pretty = json.dumps(note, indent=2, ensure_ascii=False) if view.notification else "no notification"
    parts.append(f'<details{" open" if single else ""}><summary>notification</summary><pre>{_e(pretty)}</pre></details>')
    parts.append("</article>")
    return "\n".join(parts)


def _batch_card(i: int, view: JobView, note: dict, out_dir: Path) -> str:
    """A batch file's summary (i2v.batch/v1): its rows are cards of their own."""
    counts = note.get("counts") or {}
    by_code = ", ".join(f"{_e(code)} x{_e(n)}" for code, n in (note.get("failures_by_code") or {}).items())
    facts = [f"<span>{_e(label)} <b>{_e(value)}</b></span>" for label, value in (
        ("rows", counts.get("total")), ("succeeded", counts.get("succeeded")), ("failed", counts.get("failed")),
        ("cost", _usd((note.get("cost") or {}).get("estimated_usd")))) if value is not None]
    summary = _file(view.manifest_path, out_dir)
    if summary and view.manifest_path:
        facts.append(f'<span>summary <a href="{summary}">{_e(view.manifest_path.name)}</a></span>')
    return "\n".join([
        f'<article class="job batch" id="job-{i}">',
        f'<h2><span class="badge">BATCH</span><span class="key mono">{_e(view.key)}</span></h2>',
        f'<div class="facts">{"".join(facts)}</div>',
        f'<p class="prompt">failures by code: <span class="mono">{by_code}</span></p>' if by_code else "",
        f'<details><summary>batch summary</summary><pre>{_e(json.dumps(note, indent=2, ensure_ascii=False))}</pre>'
        "</details>", "</article>"])


def _is_batch(note: dict) -> bool:
    return str(note.get("schema", "")).startswith("i2v.batch/")


def _usd(value: object) -> str | None:
    return f"${value:.2f}" if isinstance(value, (int, float)) else None


def _file(path: Path | None, out_dir: Path) -> str | None:
    """A relative URL from the page to a file of the run (each segment percent-encoded, then HTML-escaped), or
    None when there is no such file: the page never points at something missing."""
    if path is None or not Path(path).is_file():
        return None
    relative = os.path.relpath(path, out_dir)
    return html.escape("/".join(quote(part, safe="") for part in Path(relative).parts), quote=True)


def _error(note: dict) -> dict:
    return note.get("error") or {}


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _unit(value: object, unit: str) -> str | None:
    return None if value is None else f"{value:g} {unit}" if isinstance(value, (int, float)) else f"{value}"


def _seconds(value: object) -> str | None:
    return f"{value:.1f} s" if isinstance(value, (int, float)) else None


def _dimensions(path: Path | None) -> str:
    """` · 640×480 px` for an image the page shows (its size is often why a job failed), else nothing."""
    if path is None or not Path(path).is_file():
        return ""
    try:
        from PIL import Image

        with Image.open(path) as image:
            return f" · {image.width}×{image.height} px"
    except Exception:  # not an image Pillow reads: the caption just says less
        return ""


def _size(n: int | None) -> str | None:
    if n is None:
        return None
    for unit in ("bytes", "KB", "MB"):
        if n < 1024 or unit == "MB":
            return f"{n:g} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n = n / 1024
    return None
