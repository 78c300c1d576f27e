"""Helpers the tests share (tests/ is on the import path; see pyproject's pytest settings)."""

from __future__ import annotations

import functools
import io
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
SCHEMA_PATH = ROOT / "functions" / "i2v" / "contracts" / "notification-v1.schema.json"
I2V = Path(sys.executable).parent / "i2v"


def image_bytes(width: int = 640, height: int = 480, fmt: str = "PNG", color=(200, 80, 40)) -> bytes:
    img = Image.new("RGB", (width, height), color)
    for x in range(0, width, 40):  # some structure so encoders have something to do
        for y in range(0, height, 40):
            img.putpixel((x, y), (255, 255, 255))
    buf = io.BytesIO()
    img.save(buf, fmt)
    return buf.getvalue()


def video_info(path: Path) -> dict:
    """Open an MP4 with a real decoder and report its video stream."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        duration = float(container.duration) / 1_000_000 if container.duration else None
        return {"format": container.format.name, "codec": stream.codec_context.name, "width": stream.width,
                "height": stream.height, "frames": frames, "duration": duration}


@functools.cache
def template_roles() -> Any:
    """The pipeline's roles as `cdk synth` builds them (i2v_local.iam.RolePolicies): synthesized once per
    test run, bundling skipped (no Docker, no network; tens of seconds)."""
    from i2v_local.iam import RolePolicies

    sys.path.insert(0, str(ROOT / "tests" / "infra"))
    from infra_synth import synthesize

    with tempfile.TemporaryDirectory(prefix="i2v-roles-") as out:
        synth = synthesize(Path(out))
        return RolePolicies.from_synthesized(synth.stack, synth.cfn)


class Pipeline:
    """The simulator plus the embedded cloud, for tests that drive uploads through the real pipeline.

    IAM is on unless ``iam=False``: each function calls AWS as a role holding exactly its statements in
    the synthesized template (i2v_local.iam), and leaving the block fails the test if moto refused any
    call of a function (a missing permission), even one the pipeline shrugged off. A test that means to
    be refused passes ``expect_denied=True`` and reads ``denied``.
    """

    def __init__(self, sim_knobs: dict | None = None, cloud_knobs: dict | None = None, speed: float = 40.0,
                 api_key: str = "test-key", *, iam: bool = True, expect_denied: bool = False) -> None:
        self.sim_knobs = {"seed": 7, **(sim_knobs or {})}
        self.cloud_knobs = cloud_knobs or {}
        self.speed = speed
        self.api_key = api_key
        self.iam = iam
        self.expect_denied = expect_denied
        self.notifications: list[dict] = []
        self.denied: list[Any] = []

    def __enter__(self) -> Pipeline:
        import os

        from highway_sim.config import SimConfig
        from highway_sim.server import SimulatorServer
        from i2v_local.cloud import CloudConfig, LocalCloud

        self._old_key = os.environ.get("HIGHWAY_API_KEY")
        os.environ["HIGHWAY_API_KEY"] = self.api_key
        knobs = {"iam_policies": template_roles() if self.iam else None, "iam_denied_log": None,
                 **self.cloud_knobs}  # refusals are read here, not logged
        self.sim = SimulatorServer(SimConfig(speed=self.speed, **self.sim_knobs), host="127.0.0.1", port=0).start()
        self.cloud = LocalCloud(CloudConfig(provider_url=self.sim.url, time_scale=self.speed, **knobs))
        self.cloud.start()
        self.s3 = self.cloud.client("s3")
        self.bucket = self.cloud.config.bucket
        return self

    def __exit__(self, exc_type, exc_value, _tb) -> None:
        import os

        self.denied = self.cloud.iam.denied if self.cloud.iam else []
        self.cloud.stop()
        self.sim.stop()
        if self._old_key is None:
            os.environ.pop("HIGHWAY_API_KEY", None)
        else:
            os.environ["HIGHWAY_API_KEY"] = self._old_key
        if self.denied and not self.expect_denied:
            from i2v_local.iam import denied_summary

            message = ("moto refused calls the pipeline's roles do not allow (a missing permission in "
                       "infra/i2v_infra, or a call the function should not make):\n" + denied_summary(self.denied))
            if exc_value is None:
                raise AssertionError(message)
            exc_value.add_note(message)  # the test failed anyway: say why it may have

    def put(self, key: str, body: bytes, metadata: dict | None = None) -> dict:
        return self.s3.put_object(Bucket=self.bucket, Key=key, Body=body, Metadata=metadata or {})

    def wait_for(self, count: int, timeout: float = 120.0, settle: float = 0.0) -> list[dict]:
        """Wait until at least ``count`` notifications arrived (then ``settle`` seconds for extras)."""
        import time

        end = time.monotonic() + timeout
        while len(self.notifications) < count and time.monotonic() < end:
            self.notifications.extend(self.cloud.drain_notifications(wait_seconds=1))
        if settle:
            time.sleep(settle)
            self.notifications.extend(self.cloud.drain_notifications(wait_seconds=0))
        return self.notifications

    def executions(self) -> list[dict]:
        sfn = self.cloud.client("stepfunctions")
        out, token = [], None
        while True:
            kwargs = {"stateMachineArn": self.cloud.state_machine_arn, "maxResults": 1000}
            if token:
                kwargs["nextToken"] = token
            reply = sfn.list_executions(**kwargs)
            out.extend(reply["executions"])
            token = reply.get("nextToken")
            if not token:
                return out

    def states_visited(self, execution_arn: str) -> list[str]:
        sfn = self.cloud.client("stepfunctions")
        events = sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]
        return [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]


_SKIPPED_PARTS = {".git", ".venv", ".tools", "node_modules", "cdk.out", "__pycache__"}
_MARKDOWN_NAME = re.compile(r"[\w./-]*[\w-]\.md\b")
_UPWARD_PATH = re.compile(r"(?<![\w.])(?:\.\./)+[\w.-]+")


@functools.cache
def repository_documents() -> frozenset[str]:
    """The names of the Markdown documents this repository holds (what a user who cloned it has)."""
    return frozenset(p.name for p in ROOT.rglob("*.md") if not _SKIPPED_PARTS & set(p.relative_to(ROOT).parts))


def documents_users_lack(text: str, folder: Path = ROOT, *, paths: bool = True) -> list[str]:
    """What ``text`` (written in ``folder``) points to that a user of the repository does not have: a Markdown
    document by a name no file of the repository has, or (``paths``) a path up out of ``folder`` to nothing
    it holds."""
    missing = [name for name in _MARKDOWN_NAME.findall(text) if Path(name).name not in repository_documents()]
    for path in _UPWARD_PATH.findall(text) if paths else ():
        target = (folder / path).resolve()
        if not (target.is_relative_to(ROOT) and target.exists()):
            missing.append(path)
    return missing
