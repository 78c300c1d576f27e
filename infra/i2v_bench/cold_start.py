"""Cold start: import time of each handler module in a fresh interpreter, against a bare `import boto3`.

Every measurement is a new `python -c "t=perf_counter(); import MODULE; ..."` process with the
environment a Lambda has (LAMBDA_TASK_ROOT, AWS_LAMBDA_FUNCTION_NAME, region, dummy credentials,
Powertools and I2V_* variables as the stack sets them), so Powertools' Tracer turns on as it does in
AWS. Runs are interleaved (boto3, intake, dispatch, status, store, boto3, ...) so background load hits all alike.

Two bytecode situations, both measured in the same run (a private PYTHONPYCACHEPREFIX, deleted after):
- "bytecode" (the headline ratio): every module has its compiled .pyc, as a warm disk cache would;
  it compares what the handlers import, not how fast this machine compiles Python.
- "as bundled": only what the Lambda runtime ships precompiled (the standard library, boto3, botocore,
  s3transfer, dateutil, six) has .pyc; everything the CDK bundle installs (`pip install --no-compile`:
  Powertools, aws-xray-sdk, wrapt, requests, urllib3, jmespath, ... and the i2v package) is compiled
  from source on every cold start, because /var/task is read-only.

A third probe is a what-if, not a change to make: each handler imported with Powertools' Tracer
replaced by a no-op (no X-Ray SDK), with bytecode, against the same boto3 runs. It shows what the
Tracer costs at import; the Tracer itself is a required building block of the project and stays.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from i2v_bench.stats import median

HANDLERS = ("i2v.handlers.intake", "i2v.handlers.dispatch", "i2v.handlers.status", "i2v.handlers.store")
BASELINE = "boto3"
RUNS = 15
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer", "dateutil", "six")  # precompiled in the Lambda runtime
XRAY_MARKER_DIR = Path("/tmp/.aws-xray")  # the X-Ray SDK touches a file here when it sees LAMBDA_TASK_ROOT
FUNCTIONS_DIR = Path(__file__).resolve().parents[2] / "functions"
PROBE = ("import time; t, c = time.perf_counter(), time.process_time(); import {module}; "
         "print(time.perf_counter() - t, time.process_time() - c)")
# The measured "what if": the same handler import with Powertools' Tracer replaced by a no-op before the
# handler imports it, i.e. without the X-Ray SDK (its recorder and the patching of botocore/requests/httplib).
# Lambda's own active tracing (the service-side segments) needs no SDK and is unaffected.
NO_TRACER_PROBE = (
    "import time; t, c = time.perf_counter(), time.process_time(); import aws_lambda_powertools as p\n"
    "class NoTracer:\n"
    "    def __init__(self, *a, **k): pass\n"
    "    def capture_lambda_handler(self, f=None, **k): return f if f else (lambda g: g)\n"
    "    def capture_method(self, f=None, **k): return f if f else (lambda g: g)\n"
    "p.Tracer = NoTracer\n"
    "import {module}; print(time.perf_counter() - t, time.process_time() - c)")
IMPORTTIME = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")


def lambda_env(function: str, pycache: str) -> dict:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AWS_", "I2V_", "POWERTOOLS_", "HIGHWAY_", "LAMBDA_", "_X_AMZN"))}
    env.update({
        "PYTHONPYCACHEPREFIX": pycache, "PYTHONDONTWRITEBYTECODE": "1",
        "LAMBDA_TASK_ROOT": "/var/task", "AWS_LAMBDA_FUNCTION_NAME": function, "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256", "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
        "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "ASIABENCHBENCHBENCH",
        "AWS_SECRET_ACCESS_KEY": "bench", "AWS_SESSION_TOKEN": "bench", "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
        "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000", "AWS_EC2_METADATA_DISABLED": "true",
        "POWERTOOLS_SERVICE_NAME": "i2v", "POWERTOOLS_METRICS_NAMESPACE": "I2V",
        "I2V_BUCKET": "bench-bucket", "I2V_UPLOADS_PREFIX": "uploads/", "I2V_OUTPUTS_PREFIX": "outputs/",
        "I2V_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:bench",
        "I2V_STATE_MACHINE_ARN": "arn:aws:states:us-east-1:123456789012:stateMachine:bench",
        "I2V_WAKE_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/bench-wake",
        "I2V_JOBS_TABLE": "bench-jobs",
        "I2V_IDEMPOTENCY_TABLE": "bench-idempotency", "I2V_CONTROL_TABLE": "bench-control",
        "I2V_API_KEY_SECRET": "bench/highway-api-key", "HIGHWAY_API_BASE_URL": "https://api.highwayapi.ai",
        "I2V_URL_POLICY": "public-https",
    })
    return env


def _function_name(module: str) -> str:
    return "i2v-" + module.rsplit(".", 1)[-1] if module != BASELINE else "bench-boto3"


def _probe(module: str, pycache: str, template: str = PROBE) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of the import."""
    done = subprocess.run([sys.executable, "-c", template.format(module=module)], capture_output=True, text=True,
                          env=lambda_env(_function_name(module), pycache), timeout=120, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"importing {module} failed:\n{done.stderr[-2000:]}")
    wall, cpu = done.stdout.strip().splitlines()[-1].split()
    return float(wall), float(cpu)


def _warm(pycache: str) -> None:
    """Compile every module the probes import into the private cache prefix."""
    env = lambda_env("bench-warm", pycache)
    env.pop("PYTHONDONTWRITEBYTECODE")
    subprocess.run([sys.executable, "-c", "import " + ", ".join((BASELINE, *HANDLERS))], env=env, check=True,
                   capture_output=True, timeout=300)


def _as_bundled(full: str, target: str) -> None:
    """A copy of the cache that keeps only what the Lambda runtime ships compiled."""
    shutil.copytree(full, target, dirs_exist_ok=True)
    for base in {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}:
        site = Path(target + base)
        if site.is_dir():
            for entry in site.iterdir():
                if entry.name not in RUNTIME_PROVIDED:
                    shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    shutil.rmtree(target + str(FUNCTIONS_DIR), ignore_errors=True)


def import_breakdown(module: str, pycache: str, top: int = 8) -> dict:
    """Self time (ms, from -X importtime) of what MODULE imports beyond boto3, by top-level package."""
    env = lambda_env(_function_name(module), pycache)
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", f"import {BASELINE}; import {module}"],
                          capture_output=True, text=True, env=env, timeout=120, check=True)
    rows = [(int(m[1]), int(m[2]), len(m[3]) // 2, m[4]) for m in map(IMPORTTIME.match, done.stderr.splitlines())
            if m]
    start = next(i for i, row in enumerate(rows) if row[3] == BASELINE and row[2] == 0)
    by_package: Counter = Counter()
    for self_us, _cum, _depth, name in rows[start + 1:]:
        by_package[name.split(".")[0]] += self_us
    return {"extra_total_ms": round(sum(by_package.values()) / 1000, 1),
            "boto3_ms": round(rows[start][1] / 1000, 1),
            "by_package_ms": {k: round(v / 1000, 1) for k, v in by_package.most_common(top)}}


def run(quick: bool = False, progress: Callable[[str], None] = print) -> dict[str, Any]:
    runs = 3 if quick else RUNS
    workdir = tempfile.mkdtemp(prefix="i2v-bench-pycache-")
    xray_marker_existed = XRAY_MARKER_DIR.exists()
    modules = (BASELINE, *HANDLERS)
    samples: dict[str, dict[str, list[tuple[float, float]]]] = {}
    try:
        full, bundled = os.path.join(workdir, "full"), os.path.join(workdir, "bundled")
        _warm(full)
        _as_bundled(full, bundled)
        samples["no_tracer"] = {m: [] for m in HANDLERS}
        for variant, cache in (("bytecode", full), ("as_bundled", bundled)):
            samples[variant] = {m: [] for m in modules}
            for _ in range(runs):
                for module in modules:
                    samples[variant][module].append(_probe(module, cache))
                    if variant == "bytecode" and module != BASELINE:
                        samples["no_tracer"][module].append(_probe(module, cache, NO_TRACER_PROBE))
            progress(f"  cold start ({variant}): " + ", ".join(
                f"{m.rsplit('.', 1)[-1]} {median([w for w, _c in samples[variant][m]]) * 1000:.0f} ms"
                for m in modules))
        breakdown = {m: import_breakdown(m, full) for m in HANDLERS}
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        if not xray_marker_existed:
            shutil.rmtree(XRAY_MARKER_DIR, ignore_errors=True)

    def wall(variant: str, module: str) -> float:
        return median([w for w, _c in samples[variant][module]])

    def cpu(variant: str, module: str) -> float:
        return median([c for _w, c in samples[variant][module]])

    rows = []
    for module in HANDLERS:
        rows.append({
            "handler": module,
            "ratio_to_boto3": round(wall("bytecode", module) / wall("bytecode", BASELINE), 2),
            "import_ms": round(wall("bytecode", module) * 1000, 1),
            "boto3_ms": round(wall("bytecode", BASELINE) * 1000, 1),
            "ratio_cpu_time": round(cpu("bytecode", module) / cpu("bytecode", BASELINE), 2),
            "ratio_without_xray_tracer": round(wall("no_tracer", module) / wall("bytecode", BASELINE), 2),
            "import_ms_without_xray_tracer": round(wall("no_tracer", module) * 1000, 1),
            "ratio_as_bundled": round(wall("as_bundled", module) / wall("as_bundled", BASELINE), 2),
            "import_ms_as_bundled": round(wall("as_bundled", module) * 1000, 1),
            "boto3_ms_as_bundled": round(wall("as_bundled", BASELINE) * 1000, 1),
            "runs": runs,
            "extra_imports": breakdown[module],
        })
    return {"rows": rows, "meta": {"runs": runs, "python": sys.version.split()[0],
                                   "runtime_precompiled": list(RUNTIME_PROVIDED)}}
