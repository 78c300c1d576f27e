"""The run page (i2v_local/demo_page.py) as HTML: every job of the run, its input, video, notification and
error; simulated runs say so; nothing from the user becomes markup; nothing is fetched from the network.
The page in a real browser: tests/e2e/test_demo_page.py."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

from i2v_local.demo_page import write_page
from i2v_local.runner import JobView


class Tags(HTMLParser):
    """Every start tag of a page with its attributes, and its text."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self.text.append(" ")

    def words(self) -> str:
        return " ".join("".join(self.text).split())

    def handle_data(self, data):
        self.text.append(data)

    def all(self, tag: str) -> list[dict]:
        return [attrs for name, attrs in self.tags if name == tag]


def succeeded(key="uploads/a.png", prompt="a slow push-in") -> dict:
    return {"schema": "i2v.notification/v1", "status": "SUCCEEDED", "job_id": "1" * 32,
            "source": {"bucket": "b", "key": key},
            "request": {"mode": "Standard", "prompt": prompt, "duration": 5, "guidance_scale": 0.5,
                        "image_key": key, "end_image_key": None},
            "output": {"bucket": "b", "key": "outputs/a.mp4", "size_bytes": 15695,
                       "url": "http://127.0.0.1:1/b/outputs/a.mp4?Signature=x"},
            "error": None, "timings": {"total_seconds": 7.875}}


def failed(key="uploads/tiny.png", code="IMAGE_TOO_SMALL", message="the image is 120x90 px") -> dict:
    return {"schema": "i2v.notification/v1", "status": "FAILED", "job_id": "2" * 32,
            "source": {"bucket": "b", "key": key},
            "request": {"mode": "Standard", "prompt": "p", "duration": 5, "image_key": key},
            "output": None, "error": {"code": code, "message": message, "stage": "validate", "retryable": False},
            "timings": {"total_seconds": 3.6}}


def run_folder(tmp_path: Path, *notes: dict, video_name: str = "a.mp4") -> tuple[list[JobView], dict[str, Path]]:
    """The --out folder of a run: inputs copied under .i2v/inputs/, a video for each success, the manifests."""
    views, inputs = [], {}
    for note in notes:
        key = note["source"]["key"]
        inputs[key] = tmp_path / ".i2v" / "inputs" / key
        inputs[key].parent.mkdir(parents=True, exist_ok=True)
        inputs[key].write_bytes(b"image")
        manifest = tmp_path / (Path(key).stem + ".json")
        manifest.write_text("{}")
        video = None
        if note["status"] == "SUCCEEDED":
            video = tmp_path / video_name
            video.write_bytes(b"\0")
        views.append(JobView(key, phase="done", notification=note, video_path=video, manifest_path=manifest))
    return views, inputs


def test_every_job_of_the_run_has_its_input_video_notification_and_error(tmp_path):
    views, inputs = run_folder(tmp_path, succeeded(), failed())
    page = write_page(tmp_path, views, inputs).read_text()
    tags = Tags(page)
    assert page.count('<article class="job') == 2
    assert [v["src"] for v in tags.all("video")] == ["a.mp4"]
    assert tags.all("video")[0]["poster"] == ".i2v/inputs/uploads/a.png"
    assert {i["src"] for i in tags.all("img")} == {".i2v/inputs/uploads/a.png", ".i2v/inputs/uploads/tiny.png"}
    assert page.count("<details") == 2 and "&quot;job_id&quot;: &quot;" + "1" * 32 in page  # pretty JSON, escaped
    text = tags.words()
    assert "2 jobs 1 succeeded 1 failed" in text
    assert "IMAGE_TOO_SMALL" in text and "stage: validate" in text and "the image is 120x90 px" in text
    assert "uploads/tiny.png: IMAGE_TOO_SMALL" in text  # the header lists the failures, each linked to its card
    assert {a["href"] for a in tags.all("a")} >= {"#job-2", "a.mp4", "a.json", "tiny.json"}


def test_a_single_job_shows_its_notification_open(tmp_path):
    views, inputs = run_folder(tmp_path, succeeded())
    assert "<details open>" in write_page(tmp_path, views, inputs).read_text()


def test_a_simulated_run_says_so_on_the_page(tmp_path):
    views, inputs = run_folder(tmp_path, succeeded())
    page = write_page(tmp_path, views, inputs).read_text()
    assert "Simulated preview." in page and "video (simulated preview)" in page
    assert '<video src="a.mp4"' in page


def test_a_run_against_a_real_provider_does_not(tmp_path):
    views, inputs = run_folder(tmp_path, succeeded())
    page = write_page(tmp_path, views, inputs, simulated=False, provider="https://api.example").read_text()
    assert "simulated" not in page.lower()
    assert "the provider at https://api.example" in page


def test_nothing_from_the_user_becomes_markup(tmp_path):
    hostile = '<script>alert(1)</script>"><img src=x onerror=alert(2)>'
    key = f"uploads/{hostile.replace('/', '_')}.png"  # a file name cannot hold '/'
    views, inputs = run_folder(tmp_path, succeeded(key=key, prompt=f"</pre>{hostile}"),
                               failed(key="uploads/b.png", code=f"X{hostile}", message=f"</div>{hostile}"),
                               video_name=f"{hostile.replace('/', '_')}.mp4")
    page = write_page(tmp_path, views, inputs, simulated=False, provider=f"https://x/{hostile}").read_text()
    tags = Tags(page)
    assert not tags.all("script")
    assert all(not name.startswith("on") for _, attrs in tags.tags for name in attrs)
    assert "x" not in {i["src"] for i in tags.all("img")}
    assert hostile in "".join(tags.text)  # shown as text, as typed
    # paths are percent-encoded URLs: a '#', '?', quote or space in a name cannot cut the link short
    assert tags.all("video")[0]["src"].startswith("%3Cscript%3Ealert%281%29%3C_script%3E%22%3E%3Cimg%20src%3Dx")


def test_paths_are_relative_urls_and_nothing_is_fetched_from_the_network(tmp_path):
    views, inputs = run_folder(tmp_path, succeeded(key="uploads/shots/my shoe #1?.png"), failed(),
                               video_name="my shoe #1?.mp4")
    page = write_page(tmp_path, views, inputs).read_text()
    tags = Tags(page)
    assert tags.all("video")[0]["src"] == "my%20shoe%20%231%3F.mp4"
    assert ".i2v/inputs/uploads/shots/my%20shoe%20%231%3F.png" in {i["src"] for i in tags.all("img")}
    urls = [value for _, attrs in tags.tags for name, value in attrs.items() if name in ("src", "href", "poster")]
    assert urls and all("://" not in url and not url.startswith("/") for url in urls), urls
    assert [attrs["href"] for attrs in tags.all("link")] == ["data:,"]  # no favicon request either
    assert "@import" not in page and "url(" not in page


def test_missing_files_are_not_linked(tmp_path):
    views, inputs = run_folder(tmp_path, failed(key="uploads/job.json"))
    views[0].notification["request"]["image_key"] = "uploads/gone.png"  # IMAGE_NOT_FOUND: nothing to show
    views[0].notification["error"]["code"] = "IMAGE_NOT_FOUND"
    page = write_page(tmp_path, views, inputs).read_text()
    assert not Tags(page).all("img") and not Tags(page).all("video")
    assert "no input image" in page and "no video" in page


def test_someone_elses_index_html_is_never_replaced(tmp_path):
    views, inputs = run_folder(tmp_path, succeeded())
    (tmp_path / "index.html").write_text("<p>my site</p>")
    page = write_page(tmp_path, views, inputs)
    assert page.name == "i2v-run.html" and (tmp_path / "index.html").read_text() == "<p>my site</p>"
    assert write_page(tmp_path, views, inputs) == page  # a later run replaces its own page
    page.unlink()
    (tmp_path / "index.html").unlink()
    assert write_page(tmp_path, views, inputs).name == "index.html"
    assert write_page(tmp_path, views, inputs).name == "index.html"


def test_a_batch_summary_is_a_card_of_its_own_not_a_job(tmp_path):
    views, inputs = run_folder(tmp_path, succeeded(key="uploads/shoes.csv #1"), failed(key="uploads/shoes.csv #2"))
    summary = {"schema": "i2v.batch/v1", "status": "COMPLETED", "batch_id": "b" * 32,
               "source": {"bucket": "b", "key": "uploads/shoes.csv"},
               "counts": {"total": 2, "succeeded": 1, "failed": 1}, "failures_by_code": {"IMAGE_TOO_SMALL": 1},
               "cost": {"estimated_usd": 0.14}}
    views.append(JobView("uploads/shoes.csv", notification=summary, manifest_path=tmp_path / "a.json"))
    text = Tags(write_page(tmp_path, views, inputs).read_text()).words()
    assert "2 jobs 1 succeeded 1 failed 1 batch file" in text
    assert "BATCH uploads/shoes.csv rows 2 succeeded 1 failed 1 cost $0.14" in text
