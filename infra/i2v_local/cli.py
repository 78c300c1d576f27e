"""The `i2v` command line: `i2v demo`, `i2v local IMAGE...`, and operator commands.

Progress goes to stderr; with --json, stdout carries one notification per line and nothing else.
Exit codes: 0 every job succeeded, 1 any job failed, 2 usage error.
"""

from __future__ import annotations

import json
import sys
from enum import Enum
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from i2v import constants as c

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Image-to-video pipeline: run it locally (embedded cloud + provider simulator) or "
                       "operate a deployed stack.")
stderr = Console(stderr=True)
SAMPLE = Path(__file__).resolve().parent / "assets" / "sample.jpg"
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
DEFAULT_SIM_SPEED = 20.0


class Mode(str, Enum):
    standard = "Standard"
    professional = "Professional"


def _usage(message: str) -> None:
    stderr.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(EXIT_USAGE)


def _run(paths: list[Path], params: dict, end_image: Optional[Path], provider_url: Optional[str], out: Path,
         as_json: bool, speed: Optional[float], full_size: bool, max_in_flight: int, demo: bool = False) -> int:
    import os

    from i2v_local.runner import LocalRun, RunOptions
    from i2v_local.uploads import UsageError, plan

    try:
        uploads = plan(paths, params, end_image)
    except UsageError as exc:
        _usage(str(exc))
    provider_url = provider_url or os.environ.get(c.ENV_PROVIDER_URL) or None
    if provider_url and not os.environ.get(c.ENV_API_KEY):
        _usage(f"{c.ENV_API_KEY} is not set; the provider at {provider_url} needs an API key")
    if speed is None:  # real providers take real time; the simulator runs faster by default
        speed = 1.0 if provider_url else DEFAULT_SIM_SPEED
    if speed <= 0:
        _usage(f"--speed is {speed}; expected a number > 0")
    out.mkdir(parents=True, exist_ok=True)
    options = RunOptions(out_dir=out, provider_url=provider_url, speed=speed,
                         full_size=full_size, max_in_flight=max_in_flight)
    from i2v_local.progress import ProgressDisplay

    def emit(note: dict) -> None:
        if as_json:
            sys.stdout.write(json.dumps(note, ensure_ascii=False) + "\n")
            sys.stdout.flush()

    where = "the provider simulator" if not provider_url else provider_url
    stderr.print(f"[dim]starting the embedded cloud and {where}...[/]")
    with LocalRun(options) as run:
        views = run.upload(uploads)
        with ProgressDisplay(stderr) as display:
            try:
                run.follow(views, display.update, emit)
            except TimeoutError as exc:
                stderr.print(f"[bold red]{exc}[/]")
                return EXIT_FAILED
        stderr.print()
        run.copy_inputs(uploads)
        jobs_file = run.export_jobs()
    failed = [v for v in views.values() if v.notification["status"] != "SUCCEEDED"]
    for view in views.values():
        if view.video_path:
            stderr.print(f"[green]video[/]  {view.video_path}")
        stderr.print(f"[cyan]notification[/]  {view.manifest_path}")
    if demo:
        from i2v_local.demo_page import write_page

        inputs = {u.key: out / ".i2v" / "inputs" / u.key for u in uploads}
        page = write_page(out, list(views.values()), inputs)
        stderr.print(f"[bold]open[/] {page}")
        if not as_json:
            for view in views.values():
                stderr.print_json(json.dumps(view.notification))
    stderr.print(f"[dim]job records: {jobs_file} (`i2v jobs list --local {out}`)[/]")
    return EXIT_FAILED if failed else EXIT_OK


@app.command()
def demo(out: Path = typer.Option(Path("demo-output"), help="Folder for the video, manifest and demo page."),
         speed: float = typer.Option(DEFAULT_SIM_SPEED, help="Simulator speed factor (generation time / speed)."),
         full_size: bool = typer.Option(False, "--full-size", help="Render full 720p/1080p instead of a small video."),
         as_json: bool = typer.Option(False, "--json", help="Print the notification as one JSON line on stdout.")):
    """Run the whole pipeline locally on a bundled sample image."""
    import os
    import shutil
    import tempfile

    os.environ.pop(c.ENV_PROVIDER_URL, None)
    with tempfile.TemporaryDirectory() as tmp:
        sample = Path(tmp) / "sample.jpg"
        shutil.copyfile(SAMPLE, sample)
        cwd = os.getcwd()
        os.chdir(tmp)
        try:
            code = _run([Path("sample.jpg")], {"prompt": "Slow cinematic push-in over rolling hills at sunset, "
                                                         "soft light, gentle breeze"},
                        None, None, out if out.is_absolute() else Path(cwd) / out, as_json, speed, full_size,
                        c.DEFAULT_MAX_IN_FLIGHT, demo=True)
        finally:
            os.chdir(cwd)
    raise typer.Exit(code)


@app.command()
def local(images: list[Path] = typer.Argument(..., help="JPEG/PNG images, or .json job files."),
          prompt: Optional[str] = typer.Option(None, help="Prompt (1..2000 characters)."),
          negative_prompt: Optional[str] = typer.Option(None, help="Negative prompt (0..2000 characters)."),
          mode: Optional[Mode] = typer.Option(None, help="Standard (720p) or Professional (1080p, end frame)."),
          duration: Optional[int] = typer.Option(None, help="Video length in seconds: 5 or 10."),
          guidance_scale: Optional[float] = typer.Option(None, help="How closely to follow the prompt, 0..1."),
          end_image: Optional[Path] = typer.Option(None, help="End frame (Professional mode only)."),
          provider_url: Optional[str] = typer.Option(None, help="A provider honouring the HighwayAPI v3 contract; "
                                                     f"default: ${c.ENV_PROVIDER_URL}, else the built-in simulator."),
          out: Path = typer.Option(Path("i2v-output"), help="Folder for videos and manifests (mirrors uploads)."),
          as_json: bool = typer.Option(False, "--json", help="One notification per line on stdout, nothing else."),
          speed: Optional[float] = typer.Option(None, help="Time scale of the run: the simulator's speed factor and "
                                                "the divisor of the workflow's waits (default 20 with the simulator, "
                                                "1 with --provider-url)."),
          full_size: bool = typer.Option(False, "--full-size", help="Simulator renders full 720p/1080p."),
          max_in_flight: int = typer.Option(c.DEFAULT_MAX_IN_FLIGHT, help="Cap on tasks in flight at the provider.")):
    """Run the pipeline locally on the given images (parameters apply to each image)."""
    params = {"prompt": prompt, "negative_prompt": negative_prompt, "mode": mode.value if mode else None,
              "duration": duration, "guidance_scale": guidance_scale}
    params = {k: v for k, v in params.items() if v is not None}
    raise typer.Exit(_run(images, params, end_image, provider_url, out, as_json, speed, full_size, max_in_flight))


def main() -> None:  # pragma: no cover - console script entry
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
