"""The `i2v` command line: `i2v demo`, `i2v local IMAGE...`, and operator commands.

Progress goes to stderr; with --json, stdout carries one notification per line and nothing else.
Exit codes: 0 every job succeeded, 1 any job failed (or waits for `--budget-daily`), 2 usage error.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from i2v import constants as c

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
DEFAULT_SIM_SPEED = 20.0
SAMPLE = Path(__file__).resolve().parent / "assets" / "sample.jpg"
SIMULATED = "simulated preview"
_state = {"debug": bool(os.environ.get("I2V_DEBUG")), "endpoint_url": None}


def _console(to_stderr: bool) -> Console:
    """Rich output that never wraps a line when it goes to a file or a pipe, so commands copy whole."""
    console = Console(stderr=to_stderr, soft_wrap=True)
    if not console.is_terminal:
        console = Console(stderr=to_stderr, soft_wrap=True, width=max(console.width, 240))
    return console


stderr = _console(True)


class _App(typer.Typer):
    """Any error a command meets ends in one line saying what to do and exit 1 (the traceback with --debug)."""

    def __call__(self, *args, **kwargs):
        try:
            return super().__call__(*args, **kwargs)
        except Exception as exc:
            if _state["debug"]:
                traceback.print_exc()
            else:
                from i2v_local.errors import explain

                stderr.print(f"[bold red]error:[/] {escape(explain(exc, _state['endpoint_url']))}"
                             "  [dim](`i2v --debug ...` shows the traceback)[/]")
            sys.exit(EXIT_FAILED)


app = _App(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
           help="Image-to-video pipeline: run it locally (embedded cloud + provider simulator) or "
                "operate a deployed stack.")


@app.callback()
def _options(debug: bool = typer.Option(False, "--debug", help="Show the traceback of an error "
                                        "(also: I2V_DEBUG=1).")):
    if debug:
        _state["debug"] = True


def _usage(problems: str | list[str]) -> None:
    """Exit 2 with every problem, one a line, each saying what was wrong and what to do."""
    problems = [problems] if isinstance(problems, str) else problems
    if len(problems) == 1:
        stderr.print(f"[bold red]error:[/] {escape(problems[0])}")
    else:
        stderr.print(f"[bold red]error:[/] {len(problems)} problems; nothing was started:")
        for problem in problems:
            stderr.print(f"  - {escape(problem)}")
    raise typer.Exit(EXIT_USAGE)


def _provider_problems(given: str | None) -> tuple[str | None, list[str]]:
    """--provider-url, else $HIGHWAY_API_BASE_URL, else None (the simulator); a real one needs the key."""
    provider_url = given or os.environ.get(c.ENV_PROVIDER_URL) or None
    if provider_url and not os.environ.get(c.ENV_API_KEY):
        return provider_url, [f"{c.ENV_API_KEY} is not set; the provider at {provider_url} needs an API key "
                              f"(export {c.ENV_API_KEY}=..., or leave out --provider-url to use the simulator)"]
    return provider_url, []


def _run(paths: list[Path], params: dict, end_image: Path | None, provider_url: str | None, out: Path,
         as_json: bool, speed: float | None, full_size: bool, max_in_flight: int, demo: bool = False,
         cloud: dict | None = None) -> int:
    """Check everything, then start the embedded cloud, upload, follow the jobs and collect the outputs."""
    from i2v_local.checks import flag_problems
    from i2v_local.uploads import UsageError, output_clashes, plan

    problems = flag_problems(params, with_end_image=end_image is not None)
    try:
        uploads = plan(paths, params, end_image, out_dir=out)
    except UsageError as exc:
        problems[:0], uploads = exc.problems, []
    problems += output_clashes(uploads, out)
    provider_url, provider_problems = _provider_problems(provider_url)
    problems += provider_problems
    if speed is not None and speed <= 0:
        problems.append(f"`--speed {speed:g}`: expected a number > 0, e.g. `--speed 20`")
    if max_in_flight < 1:
        problems.append(f"`--max-in-flight {max_in_flight}`: expected at least 1, e.g. `--max-in-flight 10`")
    if problems:
        _usage(problems)
    if speed is None:  # real providers take real time; the simulator runs faster by default
        speed = 1.0 if provider_url else DEFAULT_SIM_SPEED
    out.mkdir(parents=True, exist_ok=True)
    from i2v_local.progress import ProgressDisplay
    from i2v_local.runner import LocalRun, RunOptions

    options = RunOptions(out_dir=out, provider_url=provider_url, speed=speed,
                         full_size=full_size, max_in_flight=max_in_flight, cloud_overrides=dict(cloud or {}))
    simulated = not provider_url

    def emit(note: dict) -> None:
        if as_json:
            sys.stdout.write(json.dumps(note, ensure_ascii=False) + "\n")
            sys.stdout.flush()

    where = (f"the provider simulator (its videos are {SIMULATED}s: a slow zoom over each image)"
             if simulated else escape(provider_url))
    stderr.print(f"[dim]starting the embedded cloud and {where}...[/]")
    with LocalRun(options) as run:
        views = run.upload(uploads)
        with ProgressDisplay(stderr) as display:
            try:
                run.follow(views, display.update, emit)
            except TimeoutError as exc:
                stderr.print(f"[bold red]{escape(str(exc))}[/]")
                return EXIT_FAILED
        stderr.print()
        run.copy_inputs(uploads)
        jobs_file = run.export_jobs()
    ended = {k: v for k, v in views.items() if v.notification is not None}
    held = [v for v in views.values() if v.notification is None]  # waiting for the --budget-daily
    failed = [v for v in ended.values() if v.notification["status"] == "FAILED"]  # a batch summary: COMPLETED
    label = f"video ({SIMULATED})" if simulated else "video"
    for view in ended.values():
        if view.video_path:
            stderr.print(f"[green]{label}[/]  {escape(str(view.video_path))}")
        stderr.print(f"[cyan]notification[/]  {escape(str(view.manifest_path))}")
    if held:
        stderr.print(f"[yellow]{len(held)} job(s) wait for the daily budget[/] (`--budget-daily`): in a deployed "
                     "stack they start the next UTC day, or at once when the budget is raised; "
                     f"`i2v jobs spend --local {escape(str(out))}` shows the spend")
    from i2v_local.demo_page import write_page

    inputs = {u.key: out / ".i2v" / "inputs" / u.key for u in uploads}  # run.copy_inputs put them there
    page = write_page(out, list(ended.values()), inputs, simulated=simulated, provider=provider_url,
                      title="i2v demo" if demo else "i2v local")
    stderr.print(f"[bold]open[/] {escape(str(page))}  [dim](every job of the run: inputs, videos, notifications)[/]")
    if demo and not as_json:
        for view in ended.values():
            stderr.print_json(json.dumps(view.notification))
    stderr.print(f"[dim]job records: {escape(str(jobs_file))} (`i2v jobs list --local {escape(str(out))}`)[/]")
    return EXIT_FAILED if failed or held else EXIT_OK


@app.command()
def demo(out: Path = typer.Option(Path("demo-output"), help="Folder for the video, manifest and demo page."),
         speed: float = typer.Option(DEFAULT_SIM_SPEED, help="Simulator speed factor (generation time / speed)."),
         full_size: bool = typer.Option(False, "--full-size", help="Render full 720p/1080p instead of a 480 px "
                                                                   "preview."),
         as_json: bool = typer.Option(False, "--json", help="Print the notification as one JSON line on stdout.")):
    """Run the whole pipeline locally on a bundled sample image."""
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
def local(images: list[Path] = typer.Argument(..., help="JPEG/PNG images, .json job files, or folders of them "
                                                 "(searched recursively; names starting with _ are not jobs)."),
          prompt: str | None = typer.Option(None, help="Prompt (1..2000 characters)."),
          negative_prompt: str | None = typer.Option(None, help="Negative prompt (0..2000 characters)."),
          mode: str | None = typer.Option(None, help="Standard (720p) or Professional (1080p, end frame); any case."),
          duration: int | None = typer.Option(None, help="Video length in seconds: 5 or 10."),
          guidance_scale: float | None = typer.Option(None, help="How closely to follow the prompt, 0..1."),
          end_image: Path | None = typer.Option(None, help="End frame (needs --mode Professional)."),
          provider_url: str | None = typer.Option(None, help="A provider honouring the HighwayAPI v3 contract; "
                                                     f"default: ${c.ENV_PROVIDER_URL}, else the built-in simulator."),
          out: Path = typer.Option(Path("i2v-output"), help="Folder for videos and manifests (mirrors uploads); "
                                                          "never one where an input would be overwritten."),
          as_json: bool = typer.Option(False, "--json", help="One notification per line on stdout, nothing else."),
          speed: float | None = typer.Option(None, help="Time scale of the run: the simulator's speed factor and "
                                                "the divisor of the workflow's waits (default 20 with the simulator, "
                                                "1 with --provider-url)."),
          full_size: bool = typer.Option(False, "--full-size", help="Simulator renders full 720p/1080p "
                                                                    "(default: a 480 px preview)."),
          max_in_flight: int = typer.Option(c.DEFAULT_MAX_IN_FLIGHT, help="Cap on tasks in flight at the provider."),
          budget_daily: float | None = typer.Option(None, "--budget-daily", help="Spend budget in dollars for the "
                                                      "run's UTC day (the stack's budgetDailyUsd): a job that would "
                                                      "pass it waits."),
          no_reuse: bool = typer.Option(False, "--no-reuse", help="A fresh video for every job, even when the same "
                                                                  "image and request made one already (reuse: false).")):
    """Run the pipeline locally on the given images (parameters apply to each image)."""
    from i2v_local.checks import canonical_mode

    params = {"prompt": prompt, "negative_prompt": negative_prompt, "mode": canonical_mode(mode),
              "duration": duration, "guidance_scale": guidance_scale}
    params = {k: v for k, v in params.items() if v is not None}
    cloud: dict = {}
    if budget_daily is not None:
        if not budget_daily >= 0:
            _usage(f"`--budget-daily {budget_daily:g}`: expected dollars, 0 or more, e.g. `--budget-daily 5`")
        cloud["budget_daily_usd"] = budget_daily
    if no_reuse:
        cloud["defaults"] = {"reuse": False}  # as the stack's `defaults` knob: job files may still say otherwise
    raise typer.Exit(_run(images, params, end_image, provider_url, out, as_json, speed, full_size, max_in_flight,
                          cloud=cloud))


# -- operator commands -----------------------------------------------------------------------------
jobs_app = typer.Typer(add_completion=False, no_args_is_help=True,
                       help="Find and retry jobs in a deployed stack (--stack), a running `i2v up` (--endpoint-url) "
                            "or an `i2v local` run (--local DIR).")
app.add_typer(jobs_app, name="jobs")

EndpointOpt = typer.Option(None, "--endpoint-url", help="A local cloud instead of AWS (`i2v up` prints it: "
                                                          "http://127.0.0.1:4566); needs no AWS configuration.")
StackOpt = typer.Option(None, "--stack", help="CloudFormation stack name (default I2VPipeline).")
RegionOpt = typer.Option(None, "--region", help="AWS region (default: your profile's).")
ProfileOpt = typer.Option(None, "--profile", help="AWS profile (default: the standard boto3 chain).")
LocalOpt = typer.Option(None, "--local", help="The --out folder of an `i2v local` run (read-only).")
JsonOpt = typer.Option(False, "--json", help="JSON on stdout instead of a table.")


def _target(endpoint_url, stack, region, profile):
    from i2v_local.ops import Target

    _state["endpoint_url"] = endpoint_url  # for the one-line error, should the endpoint not answer
    return Target(endpoint_url=endpoint_url, stack=stack, region=region, profile=profile)


def _source(endpoint_url, stack, region, profile, local_dir):
    from i2v_local.ops import JobsSource

    if local_dir is not None:
        return JobsSource(snapshot_dir=local_dir)
    return JobsSource(_target(endpoint_url, stack, region, profile))


def _ops_call(fn):
    from i2v_local.ops import OpsError

    try:
        return fn()
    except OpsError as exc:
        _usage(str(exc))


@jobs_app.command("list")
def jobs_list(status: str | None = typer.Option(None, help="Only jobs in this status (e.g. FAILED)."),
              limit: int = typer.Option(50, help="At most this many, newest first."),
              endpoint_url: str | None = EndpointOpt, stack: str | None = StackOpt,
              region: str | None = RegionOpt, profile: str | None = ProfileOpt,
              local_dir: Path | None = LocalOpt, as_json: bool = JsonOpt):
    """List jobs, newest first: status, source, task, error code."""
    rows = _ops_call(lambda: _source(endpoint_url, stack, region, profile, local_dir).all())
    if status:
        rows = [r for r in rows if str(r.get("status", "")).upper() == status.upper()]
    rows = rows[:limit]
    if as_json:
        for row in rows:
            sys.stdout.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
        return
    from rich.table import Table

    table = Table(title=f"{len(rows)} job(s)")
    for column in ("job id", "status", "place", "source", "uploaded", "task", "error"):
        table.add_column(column, overflow="fold")
    for row in rows:
        error = row.get("error") or {}
        place = f"{row['place']} ({row.get('backlog_lane', 'normal')})" if row.get("place") else ""
        table.add_row(row["job_id"][:12], str(row.get("status")), place, (row.get("source") or {}).get("key", ""),
                      str(row.get("uploaded_at") or ""), str(row.get("task_id") or ""), error.get("code", ""))
    _console(False).print(table)


@jobs_app.command("show")
def jobs_show(job_id: str = typer.Argument(..., help="Job id (a unique prefix is enough)."),
              endpoint_url: str | None = EndpointOpt, stack: str | None = StackOpt,
              region: str | None = RegionOpt, profile: str | None = ProfileOpt,
              local_dir: Path | None = LocalOpt, as_json: bool = JsonOpt):
    """Everything known about one job: status, timings, task, output, error."""
    row = _ops_call(lambda: _source(endpoint_url, stack, region, profile, local_dir).get(job_id))
    if as_json:
        sys.stdout.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
        return
    from rich.table import Table

    table = Table(show_header=False, title=f"job {row['job_id']}")
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    for key in ("status", "source", "request", "task_id", "provider_status", "polls", "progress_percent",
                "output_key", "size_bytes", "price_usd", "reused_from", "error", "timings", "uploaded_at",
                "submitted_at", "updated_at", "redrive"):
        if row.get(key) not in (None, "", {}):
            value = row[key]
            table.add_row(key, json.dumps(value, ensure_ascii=False) if isinstance(value, (dict, list)) else str(value))
    _console(False).print(table)


@jobs_app.command("spend")
def jobs_spend(endpoint_url: str | None = EndpointOpt, stack: str | None = StackOpt,
               region: str | None = RegionOpt, profile: str | None = ProfileOpt,
               local_dir: Path | None = LocalOpt, as_json: bool = JsonOpt):
    """Provider spend so far, as the spend budgets count it: today and this month (UTC)."""
    from i2v_local.ops import spend_so_far

    if local_dir is not None:
        spent = _ops_call(lambda: spend_so_far(snapshot_dir=local_dir))
    else:
        spent = _ops_call(lambda: spend_so_far(_target(endpoint_url, stack, region, profile)))
    if as_json:
        sys.stdout.write(json.dumps(spent) + "\n")
        return
    out = _console(False)
    out.print(f"spend today ({spent['day']}, UTC): ${spent['today_usd']:.2f}")
    out.print(f"spend this month ({spent['month']}): ${spent['month_usd']:.2f}")


@jobs_app.command("retry")
def jobs_retry(job_id: str = typer.Argument(..., help="A FAILED job's id (a unique prefix is enough)."),
               endpoint_url: str | None = EndpointOpt, stack: str | None = StackOpt,
               region: str | None = RegionOpt, profile: str | None = ProfileOpt, as_json: bool = JsonOpt):
    """Run a FAILED job again on purpose. This is a new, paid submission to the provider."""
    from i2v_local.ops import retry

    result = _ops_call(lambda: retry(_target(endpoint_url, stack, region, profile), job_id))
    if as_json:
        sys.stdout.write(json.dumps(result) + "\n")
    else:
        stderr.print(f"job {result['job_id']} queued again as attempt r{result['redrive']} "
                     f"(workflow {result['execution_name']})")


@app.command()
def redrive(endpoint_url: str | None = EndpointOpt, stack: str | None = StackOpt,
            region: str | None = RegionOpt, profile: str | None = ProfileOpt,
            limit: int | None = typer.Option(None, help="Move at most this many messages.")):
    """Move uploads parked in the dead-letter queue back to the upload queue."""
    from i2v_local.ops import redrive_dead_letters

    moved = _ops_call(lambda: redrive_dead_letters(_target(endpoint_url, stack, region, profile), limit))
    stderr.print(f"moved {moved} message(s) from the dead-letter queue back to the upload queue")


@app.command()
def up(port: int = typer.Option(4566, help="Port of the local cloud's endpoint on 127.0.0.1."),
       provider_url: str | None = typer.Option(None, help="Provider to use (default: start the simulator)."),
       speed: float = typer.Option(DEFAULT_SIM_SPEED, help="Simulator speed factor and workflow time scale."),
       max_in_flight: int = typer.Option(c.DEFAULT_MAX_IN_FLIGHT, help="Cap on tasks in flight at the provider.")):
    """Keep the embedded cloud (and the simulator) running until Ctrl-C or SIGTERM.

    For the AWS CLI, boto3, curl or `i2v jobs`. Needs no AWS account: it prints the commands to copy.
    """
    from i2v_local.up import HOST, banner, port_problem, stop_on_signals

    with stop_on_signals():  # from here on SIGTERM is Ctrl-C, during start-up too
        try:
            provider_url, problems = _provider_problems(provider_url)
            problems += [p for p in [port_problem(port)] if p]
            if speed <= 0:
                problems.append(f"`--speed {speed:g}`: expected a number > 0, e.g. `--speed 20`")
            if max_in_flight < 1:
                problems.append(f"`--max-in-flight {max_in_flight}`: expected at least 1, "
                                "e.g. `--max-in-flight 10`")
            if problems:
                _usage(problems)
            stderr.print(f"starting the local cloud on {HOST}:{port}...", markup=False, highlight=False)
            _serve(port, provider_url, speed, max_in_flight, banner)
        except KeyboardInterrupt:
            pass
        stderr.print("stopped")


def _serve(port: int, provider_url: str | None, speed: float, max_in_flight: int, banner) -> None:
    """Start everything, print the banner, wait for Ctrl-C; whatever was started is stopped on the way out."""
    import time

    from i2v_local.runner import LocalRun, RunOptions

    out = Path(".i2v-up")
    options = RunOptions(out_dir=out, provider_url=provider_url, speed=speed if not provider_url else 1.0,
                         max_in_flight=max_in_flight, cloud_overrides={"port": port})
    run = LocalRun(options)
    try:
        run.__enter__()  # a signal may arrive half-way: the finally below stops what did start
        cfg = run.cloud.config
        provider = (f"simulator at {run.provider_url}, its videos are {SIMULATED}s" if not provider_url
                    else run.provider_url)
        for line in banner(run.cloud.endpoint, cfg.bucket, cfg.uploads_prefix, cfg.outputs_prefix, provider,
                           out / ".i2v" / "lambda.log"):
            stderr.print(line, markup=False, highlight=False)
        while True:  # until a signal raises KeyboardInterrupt
            time.sleep(3600)
    finally:
        import logging

        # workflows still running when the cloud stops end in a runtime error: expected, not news
        logging.getLogger("moto.stepfunctions").setLevel(logging.CRITICAL)
        run.__exit__(None, None, None)


def main() -> None:  # pragma: no cover - console script entry
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
