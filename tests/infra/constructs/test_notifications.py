"""Notifications: the encrypted, TLS-only job topic and its optional email subscription."""

from __future__ import annotations

import pytest
from infra_synth import Synth

pytestmark = pytest.mark.infra


def test_topic_is_encrypted_and_tls_only(default_synth: Synth) -> None:
    logical, topic = default_synth.one("AWS::SNS::Topic", "Notifications")
    assert "KmsMasterKeyId" in topic["Properties"]
    policies = [p for p in default_synth.resources("AWS::SNS::TopicPolicy").values()
                if {"Ref": logical} in p["Properties"]["Topics"]]
    assert any(s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
               for p in policies for s in p["Properties"]["PolicyDocument"]["Statement"])


def test_no_subscription_without_an_email(default_synth: Synth) -> None:
    default_synth.template.resource_count_is("AWS::SNS::Subscription", 0)


def test_email_subscriptions(existing_synth: Synth) -> None:
    topic, _ = existing_synth.one("AWS::SNS::Topic", "Notifications")
    alarms, _ = existing_synth.one("AWS::SNS::Topic", "AlarmTopic")
    existing_synth.template.has_resource_properties("AWS::SNS::Subscription", {
        "Protocol": "email", "Endpoint": "team@example.com", "TopicArn": {"Ref": topic}})
    existing_synth.template.has_resource_properties("AWS::SNS::Subscription", {
        "Protocol": "email", "Endpoint": "ops@example.com", "TopicArn": {"Ref": alarms}})
