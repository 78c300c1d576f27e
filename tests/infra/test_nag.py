"""nag.wildcard_resource renders ARNs exactly as cdk-nag names IAM5 findings."""

from __future__ import annotations

from typing import Any

import pytest

from i2v_infra.nag import _flatten

pytestmark = pytest.mark.infra


@pytest.mark.parametrize(("value", "rendered"), [
    ("*", "*"),
    ({"Fn::Join": ["", [{"Fn::GetAtt": ["Bucket1", "Arn"]}, "/uploads/*"]]}, "<Bucket1.Arn>/uploads/*"),
    ({"Fn::Join": [":", ["arn", {"Ref": "AWS::Partition"}, "s3", "", "", "b/o/*"]]},
     "arn:<AWS::Partition>:s3:::b/o/*"),
    ({"Fn::Sub": "arn:${AWS::Partition}:logs:*"}, "arn:<AWS::Partition>:logs:*"),
    ({"Fn::ImportValue": "Exported"}, "Exported"),
    ({"Fn::Select": [0, ["a"]]}, '{"Fn::Select":[0,["a"]]}'),
])
def test_flatten_matches_cdk_nag(value: Any, rendered: str) -> None:
    assert _flatten(value) == rendered
