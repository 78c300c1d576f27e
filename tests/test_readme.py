"""The README as a newcomer reads it: what it shows is what the commands print, and it points only
at things in this repository (README.md and docs/*.md are all the documents users have)."""

from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

from i2v_local.up import banner
from support import ROOT, documents_users_lack

README = (ROOT / "README.md").read_text(encoding="utf-8")
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SOURCE_FOLDERS = ("functions", "infra", "tests", "docs")
SKIPPED_FOLDERS = {"__pycache__", "node_modules", "cdk.out"}
LINK = re.compile(r"\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")  # [text](target "title")
SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")  # https:, mailto: ...: not a file of the repository


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


def _prose(text: str) -> str:
    """The text without its fenced code blocks, where brackets are not links."""
    return re.sub(r"^(```|~~~).*?^\1[^\n]*$", "", text, flags=re.S | re.M)


def _anchors(doc: Path) -> set[str]:
    """The anchors GitHub gives the headings of a Markdown file (a repeated heading gets -1, -2 ...)."""
    anchors: set[str] = set()
    seen: dict[str, int] = {}
    for heading in re.findall(r"^#{1,6}\s+(.+?)\s*#*\s*$", _prose(doc.read_text(encoding="utf-8")), re.M):
        text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link in a heading keeps its text
        slug = re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        anchors.add(f"{slug}-{count}" if count else slug)
        seen[slug] = count + 1
    return anchors


def test_documents_point_only_inside_the_repository():
    root = ROOT.resolve()
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        assert documents_users_lack(text, doc.parent) == [], f"{doc.name} points to documents users do not have"
        for target in LINK.findall(_prose(text)):
            if SCHEME.match(target):
                continue  # a web page, not a file
            path, _, anchor = target.partition("#")
            resolved = (doc.parent / path).resolve() if path else doc.resolve()
            assert resolved.is_relative_to(root), f"{doc.name} links to {target}, outside the repository"
            assert resolved.is_file(), f"{doc.name} links to {target}, which is not a file of the repository"
            if anchor and resolved.suffix == ".md":
                assert anchor in _anchors(resolved), f"{doc.name} links to {target}: no such heading"


def test_the_link_check_sees_the_links_the_readme_has():
    """A link pattern that matched nothing would let the check above pass whatever the documents say."""
    checked = {doc.name: [t for t in LINK.findall(_prose(doc.read_text(encoding="utf-8"))) if not SCHEME.match(t)]
               for doc in DOCS}
    assert "docs/guarantees.md" in checked["README.md"]
    assert "docs/performance.md" in checked["README.md"]
    assert "#jobs-how-a-user-says-what-to-make" in checked["README.md"]


def _python_prose(text: str) -> str:
    """The comments and docstrings of a Python file: where a test would point a reader somewhere."""
    comments = [tok.string for tok in tokenize.generate_tokens(io.StringIO(text).readline)
                if tok.type == tokenize.COMMENT]
    docstrings = [ast.get_docstring(node, clean=False) or "" for node in ast.walk(ast.parse(text))
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))]
    return "\n".join(comments + docstrings)


def test_no_source_file_points_to_documents_outside_the_repository():
    """Comments, docstrings and documents point at docs/, not at documents users do not have. In tests,
    only comments and docstrings count: a test may hold such names as data."""
    found = []
    for folder in SOURCE_FOLDERS:
        for path in sorted((ROOT / folder).rglob("*")):
            parts = path.relative_to(ROOT).parts
            if not path.is_file() or any(part.startswith(".") or part in SKIPPED_FOLDERS for part in parts):
                continue
            data = path.read_bytes()
            if b"\0" in data[:8192]:
                continue  # binary (images, videos)
            text = data.decode("utf-8", "replace")
            if path.suffix == ".py":  # comments and docstrings point; strings are data (a fuzz run's hostile
                # keys climb out of folders on purpose), but code outside the tests must not name a document
                # users lack, in a message say
                lacking = documents_users_lack(_python_prose(text), path.parent)
                if folder != "tests":
                    lacking += documents_users_lack(text, path.parent, paths=False)
            else:
                lacking = documents_users_lack(text, path.parent)
            found += [f"{path.relative_to(ROOT)}: {name}" for name in dict.fromkeys(lacking)]
    assert not found, "point these at docs/ instead: " + ", ".join(found)


def _error_table() -> str:
    return README[README.index("### Error codes"):README.index("## The notification contract")]


def test_every_error_code_is_in_the_readmes_error_table():
    from i2v.contracts.errors import ErrorCode, ProviderReason

    table = _error_table()
    rows = [line for line in table.splitlines() if line.startswith("| `") or line.startswith("| provider")]
    listed = {code for row in rows for code in re.findall(r"`([A-Z][A-Z0-9_]+)`", row.split("|")[1])}
    missing = sorted(code.value for code in ErrorCode if code.value not in listed)
    assert not missing, f"error codes missing from the README's error table: {missing}"
    unknown = sorted(listed - {code.value for code in ErrorCode} - {reason.value for reason in ProviderReason})
    assert not unknown, f"the README's error table lists codes the pipeline does not have: {unknown}"


def test_the_readme_says_what_a_dead_letter_job_looks_like():
    assert "`DEAD_LETTER`" in _error_table()


def test_the_guarantees_give_a_batch_files_steps_as_the_code_takes_them():
    from i2v import constants as c

    text = " ".join((ROOT / "docs" / "guarantees.md").read_text(encoding="utf-8").split())
    words = {5: "five", 10: "ten", 20: "twenty", 25: "twenty-five", 50: "fifty"}
    assert f"then, {words[c.BATCH_CHUNK_ROWS]} rows at a time," in text
    assert f"puts the {words[c.BATCH_CHUNK_ROWS]} rows back" in text
    assert f"No step takes longer than {c.BATCH_STEP_SECONDS} s" in text
    assert f"fit the intake function's {c.FUNCTION_TIMEOUT_SECONDS[c.FN_INTAKE]} s" in text
    assert f"{c.MAX_BATCH_ROWS:,} rows" in text
