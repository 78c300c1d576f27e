"""The README as a newcomer reads it: what it shows is what the commands print, and it points only
at things in this repository."""

from __future__ import annotations

import re
from pathlib import Path

from i2v_local.up import banner
from support import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def test_the_up_banner_in_the_readme_is_the_one_i2v_up_prints(monkeypatch):
    monkeypatch.chdir(ROOT)  # the README shows it as run from the repository's folder
    shown = re.search(r"```text\n(local cloud up at .*?)```", README, re.S).group(1).splitlines()
    printed = banner("http://127.0.0.1:4566", "i2v-local", "uploads/", "outputs/", "PROVIDER",
                     Path(".i2v-up/.i2v/lambda.log"))
    assert shown[1:] == printed[1:]
    assert re.sub(r"\(provider: .*\)", "", shown[0]) == re.sub(r"\(provider: .*\)", "", printed[0])


def test_the_readme_covers_a_newcomers_path():
    text = " ".join(README.replace("*", "").split())
    for needed in ("make demo", "make test", "i2v local", "i2v up", "i2v jobs", "--local DIR", "cdk destroy",
                   "removalPolicy=retain", "<stackName>/highway-api-key", "Node 20 works", "PyPI",
                   "docs/performance.md", "simulated preview"):
        assert needed in text, needed


def test_documents_point_only_inside_the_repository():
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        for outside in ("../shared", "DESIGN.md", "PROVIDER_API.md", "LOCAL_CLOUD_NOTES.md"):
            assert outside not in text, f"{doc.name} points to {outside}"
        for target in re.findall(r"\]\(([^)#:]+)\)", text):  # relative links resolve
            assert (doc.parent / target).exists(), f"{doc.name} links to {target}, which does not exist"
