"""Reading batch files: one row per job, bad rows named by number, the file refused only as a whole."""

from __future__ import annotations

import json

import pytest

from i2v.contracts.errors import ErrorCode
from i2v.jobs.batch import InvalidBatchFile, parse_rows


def test_a_csv_header_names_the_columns_and_empty_cells_are_absent():
    rows = parse_rows(b"image,prompt,duration\nred.png,turntable,10\nblue.png,,\n\n", "uploads/shoes.csv")
    assert [(r.number, r.fields, r.problem) for r in rows] == [
        (1, {"image": "red.png", "prompt": "turntable", "duration": "10"}, None),
        (2, {"image": "blue.png"}, None)]


def test_quoted_csv_cells_keep_commas_newlines_and_unicode():
    body = 'image,prompt\n"a b.png","slow, gentle\npan — café"\n'.encode()
    (row,) = parse_rows(body, "uploads/x.csv")
    assert row.fields == {"image": "a b.png", "prompt": "slow, gentle\npan — café"}


def test_jsonl_rows_and_bad_lines_by_number():
    body = b'{"image": "a.png", "prompt": "p"}\nnot json\n[1]\n\n{"image": "b.png", "colour": "red"}\n'
    rows = parse_rows(body, "uploads/x.jsonl")
    assert [r.number for r in rows] == [1, 2, 3, 4]
    assert rows[0].problem is None and rows[0].fields == {"image": "a.png", "prompt": "p"}
    assert "row 2 is not valid JSON" in rows[1].problem
    assert "row 3 holds a JSON list" in rows[2].problem
    assert "row 4 has unknown key(s) 'colour'" in rows[3].problem


def test_a_row_with_too_many_cells_fails_alone():
    rows = parse_rows(b"image,prompt\na.png,p,extra\nb.png,q\n", "uploads/x.csv")
    assert "row 1 has 3 cells for 2 columns" in rows[0].problem and rows[1].problem is None


@pytest.mark.parametrize("body, message", [
    (b"", "has no rows"),
    (b"image,prompt\n", "has no rows"),
    (b"prompt\np\n", "with `image` among them"),
    (b"image,colour\na.png,red\n", "unknown: 'colour'"),
    (b"\xff\xfe\x00bad", "is not UTF-8 text"),
])
def test_a_file_that_cannot_be_a_batch_is_refused_whole(body, message):
    with pytest.raises(InvalidBatchFile, match=message) as refused:
        parse_rows(body, "uploads/x.csv")
    assert refused.value.code == ErrorCode.INVALID_BATCH_FILE


def test_ten_thousand_rows():
    body = "image,prompt\n" + "".join(f"item-{i}.png,prompt {i}\n" for i in range(10_000))
    rows = parse_rows(body.encode(), "uploads/big.csv")
    assert len(rows) == 10_000 and rows[-1].fields["image"] == "item-9999.png"
    jsonl = "\n".join(json.dumps({"image": f"i{i}.png"}) for i in range(10_000)).encode()
    assert len(parse_rows(jsonl, "uploads/big.jsonl")) == 10_000
