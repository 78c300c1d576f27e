"""End-to-end fuzz: generated uploads, good and hostile, through the embedded cloud with raw S3 puts.

Images (valid, and every kind the rules refuse), job files (valid and hostile JSON), folder
`_defaults.json` files, odd keys (unicode, spaces, `+`, dot and empty segments, control characters,
names outside the uploads prefix), user metadata (plain, RFC 2047 encoded words, undecodable ones),
overwrites of one key and deletes, every event possibly delivered twice. Then the promises are checked:

* every upload (object version) that is a job ends in exactly one notification, valid against
  `notification-v1.schema.json`, whose error code is in the documented table (an image a job file
  names is that job's input and ends in none: its record says CLAIMED);
* nothing invalid reached the provider: the simulator refused no submission, every task belongs to a
  notification, and what a succeeded job sent was valid by an oracle of its own (its image bytes were
  generated valid; its parameters keep the documented rules);
* every succeeded notification's URL serves a video of its `size_bytes`;
* nothing in the dead-letter queue, no job left waiting or half done.

`make soak` runs a few hundred uploads, `make test` a smaller run (tests/e2e/test_fuzz.py).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import random
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from i2v import constants as c
from i2v.contracts.errors import DOCUMENTED_CODES
from i2v.jobs.keys import classify_key, job_id_for
from i2v.jobs.params import encode_metadata_value
from i2v_local.runner import LocalRun, RunOptions

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "functions" / "i2v" / "contracts" / "notification-v1.schema.json"
TERMINAL = {"SUCCEEDED", "FAILED", "CLAIMED"}
IMAGE_CODES = {"IMAGE_FORMAT_UNSUPPORTED", "IMAGE_EMPTY", "IMAGE_CORRUPT", "IMAGE_TOO_LARGE", "IMAGE_TOO_SMALL",
               "IMAGE_ASPECT_RATIO"}  # failures for the image's own bytes


# --- what is generated ------------------------------------------------------------------------------

def _encode(width: int, height: int, fmt: str, color: tuple[int, int, int], **save: Any) -> bytes:
    from PIL import Image

    img = Image.new("RGB", (width, height), color)
    for x in range(0, width, 29):
        img.putpixel((x, (x * 7) % height), (255, 255, 255))
    buf = io.BytesIO()
    img.save(buf, fmt, **save)
    return buf.getvalue()


def _padded_png(png: bytes, size: int) -> bytes:
    import struct
    import zlib

    body = b"\0" * size
    return png[:33] + struct.pack(">I", size) + b"prVt" + body + struct.pack(">I", zlib.crc32(b"prVt" + body)) + png[33:]


class Images:
    """Image bodies, each generated valid or not (by the documented rules)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        png = _encode(640, 480, "PNG", (30, 120, 200))
        jpeg = _encode(640, 480, "JPEG", (200, 120, 30))
        self.bad: dict[str, bytes] = {
            "empty": b"", "gif": _encode(640, 480, "GIF", (1, 2, 3)), "bmp": _encode(640, 480, "BMP", (1, 2, 3)),
            "webp": _encode(640, 480, "WEBP", (1, 2, 3)), "png-truncated": png[: len(png) // 2],
            "jpeg-truncated": jpeg[: len(jpeg) // 2],
            "png-bad-crc": png[:29] + bytes(b ^ 0xFF for b in png[29:33]) + png[33:],
            "tiny": _encode(200, 200, "PNG", (9, 9, 9)), "too-wide": _encode(760, 300, "PNG", (9, 9, 9)),
            "too-tall": _encode(300, 760, "JPEG", (9, 9, 9)), "too-large": _padded_png(png, c.IMAGE_MAX_BYTES),
            "text": b"not an image at all\n", "garbage": bytes(range(256)) * 8,
        }
        self.valid_digests: set[str] = set()

    def good(self) -> bytes:
        """A fresh valid image (its own bytes, so each job's video is its own)."""
        rng = self.rng
        width = rng.choice([300, 480, 640, 750, 800])
        height = max(300, min(int(width / rng.uniform(0.5, 2.4)), 1000))
        if not 1 / 2.5 <= width / height <= 2.5:
            height = width
        fmt = rng.choice(["PNG", "JPEG"])
        data = _encode(width, height, fmt, (rng.randrange(256), rng.randrange(256), rng.randrange(256)),
                       **({"progressive": True} if fmt == "JPEG" and rng.random() < 0.3 else {}))
        self.valid_digests.add(_digest(data))
        return data

    def any(self) -> tuple[bytes, bool]:
        if self.rng.random() < 0.55:
            return self.good(), True
        name = self.rng.choice(sorted(self.bad))
        return self.bad[name], False


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


_SEGMENTS = ["cat", "shoe", "Red Shoes", "a+b", "ünïcödé", "日本", "émoji🎬", "x y", "100%", "~tmp", "a=b&c",
             "UPPER", "v1.2", "._x", "-dash"]
_HOSTILE_SEGMENTS = [".", "..", "", "tab\there", "nl\nx", "bs\\x", "del\x7f"]
# Each parameter: values that keep the rules, then values that break them (chosen a quarter of the time).
VALUES: dict[str, tuple[list[Any], list[Any]]] = {
    "prompt": (["slow turntable, studio light", "the cat turns its head", "é" * 1999, "un chat sur la plage ☀ 猫",
                "emoji 🎬 ok", "=?utf-8?b?aMOpbGxv?="], ["", "   ", "p" * 2001, 42, None]),
    "negative_prompt": (["blur", "", None, "ñ" * 2000], ["n" * 2001, ["x"]]),
    "mode": (["Standard", "Professional", " professional ", "STANDARD"], ["Turbo", "", 1]),
    "duration": ([5, 10, "10", " 5 ", 5.0], [7, 10.5, "²", 10**40, True, "1e1"]),
    "guidance_scale": ([0, 0.5, 1, "0.3", 0.0], [1.5, -1, "nan", "inf", True]),
    "priority": (["high", "normal", "low", "LOW"], ["urgent", 3, ""]),
}
METADATA_NAMES = {"prompt": "prompt", "negative_prompt": "negative-prompt", "mode": "mode", "duration": "duration",
                  "guidance_scale": "guidance-scale", "priority": "priority"}


class Generator:
    """One fuzz plan: what to put, overwrite and delete, in order."""

    def __init__(self, rng: random.Random, images: Images) -> None:
        self.rng, self.images = rng, images
        self.folders: list[str] = []
        self.image_names: dict[str, list[str]] = {}  # folder -> image names put there

    def folder(self) -> str:
        rng = self.rng
        if self.folders and rng.random() < 0.6:
            return rng.choice(self.folders)
        parts = [rng.choice(_SEGMENTS) for _ in range(rng.randint(0, 2))]
        if rng.random() < 0.12:
            parts.insert(rng.randrange(len(parts) + 1), rng.choice(_HOSTILE_SEGMENTS))
        folder = "uploads/" + "".join(p + "/" for p in parts)
        self.folders.append(folder)
        return folder

    def stem(self) -> str:
        rng = self.rng
        if rng.random() < 0.06:
            return rng.choice(_HOSTILE_SEGMENTS[:2] + ["tab\tname", "nl\nname"])
        return rng.choice(_SEGMENTS) + (str(rng.randrange(100)) if rng.random() < 0.7 else "")

    def value(self, name: str) -> Any:
        good, bad = VALUES[name]
        return self.rng.choice(bad if self.rng.random() < 0.25 else good)

    def metadata(self) -> dict[str, str]:
        rng = self.rng
        out: dict[str, str] = {}
        for _ in range(rng.choice([0, 0, 1, 2, 3])):
            roll = rng.random()
            if roll < 0.8:
                name = rng.choice(sorted(METADATA_NAMES))
                value = self.value(name)
                if value is None:
                    continue
                out[rng.choice([METADATA_NAMES[name], METADATA_NAMES[name].upper()])] = encode_metadata_value(str(value))
            elif roll < 0.9:  # an end frame, relative to the image (Professional only)
                out["mode"] = "Professional"
                out["end-image"] = rng.choice(["_frames/end.png", "../../x.png", "missing.png", "a/./b.png"])
            else:  # encoded words S3 would hand back as they are, some that cannot be decoded
                out[rng.choice(["prompt", "unrelated"])] = rng.choice(
                    ["=?utf-8?b?!!!notbase64?=", "=?x-unknown?q?abc?=", "=?UTF-8?Q?caf=C3=A9?=", "=?utf-8?b?/w==?="])
        return out

    def reference(self, folder: str) -> Any:
        rng = self.rng
        names = self.image_names.get(folder, [])
        roll = rng.random()
        if names and roll < 0.6:
            return rng.choice(names)
        if names and roll < 0.7:
            return "/" + folder + rng.choice(names)
        return rng.choice(["", "missing.png", "../../../etc/passwd.png", "../outside.png", "/outputs/x.png",
                           "a/./b.png", "a//b.png", "/elsewhere/x.png", 42, None, ["x.png"], {"k": 1}])

    def job_file(self, folder: str) -> bytes:
        rng = self.rng
        if rng.random() < 0.12:
            return rng.choice([b"", b"null", b"[]", b"{", b"42", b'"x"', b"[" * 50_000, b"\xff\xfe\x00",
                               b'{"image": "x.png", "duration": ' + b"9" * 5000 + b"}",
                               b'{"image": "x.png", "duration": NaN}', b'{"image": "x.png"}' + b" " * 70_000])
        doc: dict[str, Any] = {}
        if rng.random() < 0.95:
            doc["image"] = self.reference(folder)
        for name in VALUES:
            if rng.random() < 0.45:
                doc[name] = self.value(name)
        if rng.random() < 0.2:
            doc["end_image"] = self.reference(folder)
            doc.setdefault("mode", "Professional")
        if rng.random() < 0.05:
            doc[rng.choice(["colour", "Image", "", "image_url"])] = "x"
        return json.dumps(doc, ensure_ascii=rng.random() < 0.5).encode("utf-8", "surrogatepass")

    def defaults_file(self) -> bytes:
        rng = self.rng
        if rng.random() < 0.15:
            return rng.choice([b"", b"[]", b"{", b'{"end_image": "x.png"}', b'{"image": "x.png"}'])
        doc = {name: VALUES[name][0][0] if rng.random() < 0.9 else self.value(name)
               for name in ("prompt", "mode", "duration", "guidance_scale", "priority") if rng.random() < 0.4}
        return json.dumps(doc).encode()

    def plan(self, uploads: int) -> list[dict[str, Any]]:
        rng, actions, puts = self.rng, [], 0
        put_keys: list[str] = []
        while puts < uploads:
            roll = rng.random()
            folder = self.folder()
            if roll < 0.45:  # an image
                under = "_frames/" if rng.random() < 0.2 else ""
                name = under + self.stem() + rng.choice([".png", ".jpg", ".jpeg", ".PNG", ".JpG"])
                body, valid = self.images.any()
                self.image_names.setdefault(folder, []).append(name)
                actions.append({"op": "put", "key": folder + name, "body": body, "metadata": self.metadata(),
                                "valid_image": valid})
            elif roll < 0.65:  # a job file (its images first, most of the time)
                if rng.random() < 0.6:
                    name = "_frames/" + self.stem() + rng.choice([".png", ".jpg"])
                    self.image_names.setdefault(folder, []).append(name)
                    actions.append({"op": "put", "key": folder + name, "body": self.images.good(), "metadata": {},
                                    "valid_image": True})
                    puts += 1
                actions.append({"op": "put", "key": folder + self.stem() + rng.choice([".json", ".JSON"]),
                                "body": self.job_file(folder), "metadata": {}})
            elif roll < 0.70:  # a folder's defaults (never the whole prefix's: one bad file there fails everything)
                if folder == "uploads/":
                    folder = "uploads/" + self.stem() + "/"
                    self.folders.append(folder)
                actions.append({"op": "put", "key": folder + c.DEFAULTS_FILE_NAME, "body": self.defaults_file(),
                                "metadata": {}})
            elif roll < 0.80 and put_keys:  # overwrite: the same key again, other bytes or the same
                key = rng.choice(put_keys)
                same = next(a for a in reversed(actions) if a["op"] == "put" and a["key"] == key)
                body = same["body"] if rng.random() < 0.3 else self.images.any()[0] if not key.lower().endswith(
                    ".json") else self.job_file(folder)
                actions.append({"op": "put", "key": key, "body": body, "metadata": self.metadata(),
                                "valid_image": _digest(body) in self.images.valid_digests})
            elif roll < 0.85 and put_keys:
                actions.append({"op": "delete", "key": rng.choice(put_keys)})
                continue
            else:  # an odd key: outside the prefix, another suffix, the outputs themselves
                key = rng.choice(["", "outputs/", "elsewhere/", "uploads/", "uploads/_x/"]) + self.stem() + \
                    rng.choice([".png", ".txt", "", ".mp4", ".json"])
                body, valid = self.images.any()
                actions.append({"op": "put", "key": key, "body": body, "metadata": self.metadata(),
                                "valid_image": valid})
            put_keys.append(actions[-1]["key"])
            puts += 1
        return actions


# --- the run ----------------------------------------------------------------------------------------

@dataclass
class FuzzReport:
    seed: int
    uploads: int  # S3 puts made
    deletes: int
    overwrites: int
    puts_refused_by_s3: int  # keys or metadata S3 (the client) would not take
    job_uploads: int  # object versions that are jobs
    notifications: int
    succeeded: int
    failed: int
    claimed: int  # images a job file named: its input, no job of their own
    failure_codes: dict
    jobs_without_outcome: list
    jobs_with_several_notifications: list
    schema_errors: list
    undocumented_codes: list
    provider_submissions: int
    provider_tasks_created: int
    provider_refusals: int  # submissions the provider refused: invalid input that reached it
    tasks_without_notification: int
    invalid_input_paid: list  # succeeded jobs whose inputs break a rule
    valid_images_refused: list  # image jobs whose bytes were generated valid, failed for their bytes
    urls_not_serving: list
    stuck_jobs: list
    iam_enforced: bool  # each function called AWS as its synthesized role
    iam_denied: list  # calls a function's role was refused (with iam_policies)
    dlq_depth: int
    queue_depth: int
    duplicate_deliveries: int
    wall_seconds: float
    passed: bool = False
    problems: list = field(default_factory=list)

    def check(self) -> FuzzReport:
        for name in ("jobs_without_outcome", "jobs_with_several_notifications", "schema_errors", "undocumented_codes",
                     "invalid_input_paid", "valid_images_refused", "urls_not_serving", "stuck_jobs", "iam_denied"):
            if getattr(self, name):
                self.problems.append(f"{name}: {getattr(self, name)[:5]}")
        for name in ("provider_refusals", "tasks_without_notification", "dlq_depth"):
            if getattr(self, name):
                self.problems.append(f"{name}: {getattr(self, name)}")
        self.passed = not self.problems
        return self


def _valid_request(request: dict[str, Any]) -> bool:
    prompt, negative = request.get("prompt"), request.get("negative_prompt")
    return (isinstance(prompt, str) and 0 < len(prompt) <= c.PROMPT_MAX and bool(prompt.strip())
            and (negative is None or (isinstance(negative, str) and len(negative) <= c.PROMPT_MAX))
            and request.get("mode") in c.MODES and request.get("duration") in c.DURATIONS
            and isinstance(request.get("guidance_scale"), (int, float)) and 0 <= request["guidance_scale"] <= 1
            and (request.get("end_image_key") is None or request.get("mode") == "Professional"))


def _plain_key(key: str) -> bool:
    parts = key.split("/")
    return "." not in parts and ".." not in parts and "" not in parts[:-1] and \
        not any(ch < " " or ch in "\x7f\\" for ch in key)


def run_fuzz(uploads: int = 40, seed: int = 1, speed: float = 60.0, max_in_flight: int = 10,
             duplicate_delivery: float = 0.3, versioned: bool = True, iam_policies: Any = None,
             timeout: float = 600.0, progress: Any = None) -> FuzzReport:
    """``versioned=False``: a bucket without versioning (jobs pin the ETag; a URL serves whatever its key
    holds by then, so URLs and submitted images are checked only for keys never replaced or deleted).
    ``iam_policies`` (i2v_local.iam.RolePolicies, from a synthesized template): each function calls AWS as
    its role, and every call a role was refused is a problem of the run."""
    import requests
    from jsonschema import Draft202012Validator, FormatChecker

    from i2v.aws.jobs_table import JobsTable

    started = time.monotonic()
    validator = Draft202012Validator(json.loads(SCHEMA_PATH.read_text()), format_checker=FormatChecker())
    rng = random.Random(seed)
    images = Images(rng)
    plan = Generator(rng, images).plan(uploads)
    with tempfile.TemporaryDirectory() as out, LocalRun(RunOptions(
            out_dir=Path(out), speed=speed, max_in_flight=max_in_flight, sim_overrides={"seed": seed},
            cloud_overrides={"seed": seed, "duplicate_delivery": duplicate_delivery, "visibility_timeout": 5,
                             "versioned": versioned, **({"iam_policies": iam_policies} if iam_policies else {})})) as run:
        cloud, sim = run.cloud, run.simulator
        assert cloud is not None and sim is not None
        s3, bucket = cloud.client("s3"), cloud.config.bucket
        prefix, outputs = cloud.config.uploads_prefix, cloud.config.outputs_prefix
        versions: list[dict[str, Any]] = []  # every put S3 took: key, version, whether a job, its image validity
        refused = deletes = overwrites = 0
        seen_keys: set[str] = set()
        for action in plan:
            if action["op"] == "delete":
                s3.delete_object(Bucket=bucket, Key=action["key"])
                deletes += 1
                continue
            try:
                reply = s3.put_object(Bucket=bucket, Key=action["key"], Body=action["body"],
                                      Metadata=action["metadata"])
            except Exception:  # noqa: BLE001 - what the client refuses never reaches S3
                refused += 1
                continue
            overwrites += action["key"] in seen_keys
            seen_keys.add(action["key"])
            decision = classify_key(action["key"], prefix, outputs)
            version = reply.get("VersionId")
            versions.append({"key": action["key"], "version": None if version in (None, "null") else version,
                             "etag": hashlib.md5(action["body"]).hexdigest(),  # noqa: S324 - S3's single-part ETag
                             "is_job": decision.is_job, "kind": decision.kind.value if decision.kind else None,
                             "valid_image": action.get("valid_image")})
        # Each upload that is a job, by key (without versions a job id needs the event's sequencer, which only
        # the event carries: uploads are then counted per key), and by job id where the bucket keeps versions.
        expected = Counter(v["key"] for v in versions if v["is_job"])
        jobs = {job_id_for(bucket, v["key"], v["version"]): v for v in versions if v["is_job"] and v["version"]}
        by_source = {(v["key"], v["version"] or v["etag"]): v for v in versions}
        table = JobsTable(cloud.tables["jobs"], cloud.client("dynamodb"))
        seen: list[dict[str, Any]] = []
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            seen.extend(m["notification"] for m in cloud.drain_notifications(wait_seconds=1))
            records = {r["job_id"]: r for r in table.scan()}
            missing = _missing(expected, seen, records, _claimed_keys(cloud))
            waiting = [r for r in records.values() if r.get("status") not in TERMINAL]
            if progress:
                progress(len({n["job_id"] for n in seen}), sum(expected.values()), sim.stats()["in_flight_now"])
            if not missing and not waiting and cloud.queue_depths()["queue"] == 0:
                break
        time.sleep(2.0)  # a second notification for a job would arrive now
        seen.extend(m["notification"] for m in cloud.drain_notifications(wait_seconds=1))
        records = {r["job_id"]: r for r in table.scan()}
        depths = cloud.queue_depths()
        stats = sim.stats()
        duplicated = cloud.duplicated
        claims = _claimed_keys(cloud)
        denied = _denied(cloud)
        enforced = getattr(cloud, "iam", None) is not None
        urls_not_serving = []
        for note in seen:
            if note["output"]:
                body = requests.get(note["output"]["url"], timeout=10).content
                exact = versioned or note["output"]["key"] not in rewritten_outputs(seen)
                if body[4:8] != b"ftyp" or (exact and len(body) != note["output"]["size_bytes"]):
                    urls_not_serving.append(note["job_id"])
        image_bytes: dict[str, str] = {}
        submitted: dict[str, str] = {}
        for submission in stats["submissions"]:
            image_bytes[submission["task_id"]] = _digest(requests.get(submission["image_url"], timeout=10).content)
            submitted[submission["task_id"]] = submission["image_url"]

    per_job = Counter(n["job_id"] for n in seen)
    codes = Counter(n["error"]["code"] for n in seen if n["error"])
    without = [{"key": key, "uploads": expected[key], "outcomes": expected[key] - gap}
               for key, gap in _missing(expected, seen, records, claims).items()]
    without += [{"key": v["key"], "version": v["version"], "status": records.get(j, {}).get("status")}
                for j, v in jobs.items() if not per_job[j] and records.get(j, {}).get("status") != "CLAIMED"
                and not (j not in records and v["key"] in claims)]
    strangers = [n["job_id"] for n in seen if versioned and n["job_id"] not in jobs]  # a job of no upload
    claimed = sum(expected.values()) - len(per_job) - sum(_missing(expected, seen, records, claims).values())
    schema_errors = []
    for note in seen:
        errors = sorted(validator.iter_errors(note), key=lambda e: e.path)
        if errors:
            schema_errors.append({"job_id": note["job_id"], "error": errors[0].message[:200]})
    tasks_noted = {n["provider"]["task_id"] for n in seen if n["provider"]["task_id"]}
    invalid_paid = []
    changed_keys = {a["key"] for a in plan if a["op"] == "delete"} | {
        k for k, n in Counter(a["key"] for a in plan if a["op"] == "put").items() if n > 1}
    succeeded_ids = {n["job_id"] for n in seen if n["status"] == "SUCCEEDED"}
    for note in seen:
        if note["status"] != "SUCCEEDED":
            continue
        source = note["source"]
        version = by_source.get((source["key"], source.get("version_id") or source.get("etag")), {})
        reasons = []
        if not _valid_request(note["request"]):
            reasons.append("request")
        if not _plain_key(note["request"].get("image_key") or "") or not _plain_key(note["source"]["key"]):
            reasons.append("key")
        if note.get("reused_from"):  # the same content's video, made (and paid) once by another job
            if note["reused_from"] not in succeeded_ids:
                reasons.append("reused from a job that did not succeed")
        elif (versioned or note["request"].get("image_key") not in changed_keys) and \
                image_bytes.get(note["provider"]["task_id"]) not in images.valid_digests:
            reasons.append("image bytes")
        if version.get("kind") == "image" and version.get("valid_image") is False:
            reasons.append("generated invalid")
        if reasons:
            invalid_paid.append({"key": note["source"]["key"], "why": reasons,
                                 "image_url": submitted.get(note["provider"]["task_id"])})
    refused_valid = []
    for note in seen:
        source = note["source"]
        put = by_source.get((source["key"], source.get("version_id") or source.get("etag")), {})
        code = (note["error"] or {}).get("code", "")
        if put.get("kind") == "image" and put.get("valid_image") and code in IMAGE_CODES:
            refused_valid.append({"key": source["key"], "code": code, "message": note["error"]["message"][:200]})
    stuck = [{"key": (r.get("source") or {}).get("key"), "status": r.get("status")} for r in records.values()
             if r.get("status") not in TERMINAL]
    return FuzzReport(
        seed=seed, uploads=len(versions), deletes=deletes, overwrites=overwrites, puts_refused_by_s3=refused,
        job_uploads=sum(expected.values()), notifications=len(seen),
        succeeded=sum(1 for n in seen if n["status"] == "SUCCEEDED"), failed=sum(codes.values()), claimed=claimed,
        failure_codes=dict(sorted(codes.items())), jobs_without_outcome=without,
        jobs_with_several_notifications=[j for j, n in per_job.items() if n > 1] + strangers,
        schema_errors=schema_errors,
        undocumented_codes=sorted(set(codes) - {str(code) for code in DOCUMENTED_CODES}),
        provider_submissions=stats["submit_requests"], provider_tasks_created=stats["tasks_created"],
        provider_refusals=stats["submit_requests"] - stats["tasks_created"] - stats["rate_limited"],
        tasks_without_notification=len({s["task_id"] for s in stats["submissions"]} - tasks_noted),
        invalid_input_paid=invalid_paid, valid_images_refused=refused_valid, urls_not_serving=urls_not_serving, stuck_jobs=stuck,
        iam_enforced=enforced, iam_denied=denied, dlq_depth=depths["dlq"], queue_depth=depths["queue"], duplicate_deliveries=duplicated,
        wall_seconds=round(time.monotonic() - started, 1),
    ).check()


def _missing(expected: Counter[str], notes: list[dict[str, Any]], records: dict[str, dict[str, Any]],
             claims: set[str]) -> dict[str, int]:
    """Job keys with fewer outcomes than uploads: an outcome is a job's notification, or its record CLAIMED
    (an image a job file names); an image named before it arrived gets no record at all (its key is claimed)."""
    outcomes: dict[str, set[str]] = {}
    for note in notes:
        outcomes.setdefault(note["source"]["key"], set()).add(note["job_id"])
    for job_id, record in records.items():
        if record.get("status") == "CLAIMED":
            outcomes.setdefault(str((record.get("source") or {}).get("key")), set()).add(job_id)
    gaps = {key: n - len(outcomes.get(key, ())) for key, n in expected.items()}
    return {key: gap for key, gap in gaps.items() if gap > 0 and key not in claims}


def rewritten_outputs(notes: list[dict[str, Any]]) -> set[str]:
    """Output keys more than one job wrote (without versions, the name serves the last)."""
    return {k for k, n in Counter(n["output"]["key"] for n in notes if n["output"]).items() if n > 1}


def _denied(cloud: Any) -> list[str]:
    if getattr(cloud, "iam", None) is None or not cloud.iam.denied:
        return []
    from i2v_local.iam import denied_summary

    return denied_summary(cloud.iam.denied).splitlines()


def _claimed_keys(cloud: Any) -> set[str]:
    """Image keys a job file named (the control table's ``claim#<key>`` items)."""
    ddb = cloud.client("dynamodb")
    out: set[str] = set()
    for page in ddb.get_paginator("scan").paginate(TableName=cloud.tables["control"]):
        for item in page["Items"]:
            key = item[c.CONTROL_TABLE_KEY]["S"]
            if key.startswith("claim#"):
                out.add(key.removeprefix("claim#"))
    return out


def print_report(report: FuzzReport, stream: Any = sys.stdout) -> None:
    rows = [("uploads (S3 puts) / deletes / overwrites", f"{report.uploads} / {report.deletes} / {report.overwrites}"),
            ("puts the S3 client refused", report.puts_refused_by_s3),
            ("uploads that are jobs", report.job_uploads),
            ("notifications: succeeded / failed", f"{report.notifications}: {report.succeeded} / {report.failed}"),
            ("images named by a job file (claimed)", report.claimed), ("failure codes", report.failure_codes),
            ("provider submissions / tasks / refused", f"{report.provider_submissions} / "
                                                       f"{report.provider_tasks_created} / {report.provider_refusals}"),
            ("duplicate S3 deliveries", report.duplicate_deliveries), ("DLQ depth", report.dlq_depth),
            ("wall time", f"{report.wall_seconds} s"), ("result", "PASS" if report.passed else "FAIL")]
    for name, value in rows:
        print(f"{name:40s} {value}", file=stream)
    for problem in report.problems:
        print(f"  problem: {problem}", file=stream)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uploads", type=int, default=300)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--speed", type=float, default=60.0)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--unversioned", action="store_true", help="a bucket without versioning")
    args = parser.parse_args(argv)
    report = run_fuzz(uploads=args.uploads, seed=args.seed, speed=args.speed, versioned=not args.unversioned)
    if args.json:
        print(json.dumps(asdict(report), indent=2, ensure_ascii=False))
    else:
        print_report(report)
    return 0 if report.passed else 1


if __name__ == "__main__":
    sys.exit(main())
