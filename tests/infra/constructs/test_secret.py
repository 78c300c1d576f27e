"""ApiKeySecret: a new secret with a placeholder, or an existing one imported by name."""

from __future__ import annotations

import pytest
from infra_synth import Synth

pytestmark = pytest.mark.infra


def test_new_secret_has_a_generated_placeholder_and_a_known_name(default_synth: Synth) -> None:
    _, secret = default_synth.one("AWS::SecretsManager::Secret")
    props = secret["Properties"]
    assert props["Name"] == "I2VPipeline/highway-api-key"
    assert "GenerateSecretString" in props and "SecretString" not in props
    assert "put-secret-value" in props["Description"]


def test_new_secret_is_deleted_with_the_stack_even_when_data_is_retained(default_synth: Synth) -> None:
    """Its fixed name must be free for the next deploy of the same stack (test_redeploy has the rule)."""
    _, secret = default_synth.one("AWS::SecretsManager::Secret")
    assert (secret["DeletionPolicy"], secret["UpdateReplacePolicy"]) == ("Delete", "Delete")
    assert default_synth.resource("Tables", "Jobs")["DeletionPolicy"] == "Retain"  # the data is still kept


def test_existing_secret_is_imported_not_created(existing_synth: Synth) -> None:
    existing_synth.template.resource_count_is("AWS::SecretsManager::Secret", 0)
