"""A small HTML page beside the demo's outputs: the input, the video playing, the notification; a simulated
run says so at the top and under each video."""

from __future__ import annotations

import html
import json
import os
from pathlib import Path

from i2v_local.runner import JobView

SIMULATED_NOTE = ("<p class=\"note\"><strong>Simulated preview.</strong> These videos come from the local provider "
                  "simulator: a slow zoom over your image, made to test the pipeline, not the KLING model's video. "
                  "Point <code>i2v local --provider-url</code> at the real service for real ones.</p>")


def write_page(out_dir: Path, views: list[JobView], inputs: dict[str, Path], simulated: bool = True) -> Path:
    cards = []
    caption = "video (simulated preview)" if simulated else "video"
    for view in views:
        note = view.notification or {}
        image = inputs.get(view.key)
        image_html = (f'<img src="{html.escape(os.path.relpath(image, out_dir))}" alt="input">' if image else "")
        video_html = (f'<video src="{html.escape(os.path.relpath(view.video_path, out_dir))}" controls autoplay loop '
                      'muted playsinline></video>' if view.video_path else
                      f'<p class="error">{html.escape((note.get("error") or {}).get("message", "no video"))}</p>')
        cards.append(f"""<section><h2>{html.escape(view.key)} — {html.escape(note.get('status', '?'))}</h2>
<div class="row"><figure>{image_html}<figcaption>input</figcaption></figure>
<figure>{video_html}<figcaption>{caption}</figcaption></figure></div>
<details open><summary>notification</summary><pre>{html.escape(json.dumps(note, indent=2, ensure_ascii=False))}</pre>
</details></section>""")
    page = out_dir / "index.html"
    page.write_text(f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>i2v demo</title>
<style>body{{font-family:system-ui,sans-serif;margin:2rem;background:#fafafa;color:#222}}
.row{{display:flex;gap:1rem;flex-wrap:wrap}} figure{{margin:0}} img,video{{max-width:480px;border-radius:6px}}
pre{{background:#fff;border:1px solid #ddd;padding:1rem;overflow:auto;max-width:100%}} .error{{color:#b00}}
.note{{background:#fff8e1;border:1px solid #f0c36d;padding:.75rem 1rem;border-radius:6px;max-width:60rem}}</style>
</head><body><h1>i2v: image to video, run locally</h1>{SIMULATED_NOTE if simulated else ''}{''.join(cards)}</body></html>
""", encoding="utf-8")
    return page
