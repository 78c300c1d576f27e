"""Synthesizes the CDK app once per variant per session (synth takes seconds) and shares the result.

Bundling is skipped (`aws:cdk:bundling-stacks=[]`), so no pip, Docker, network or AWS account is used.
cdk-nag findings do not stop synth here (`failSynthOnValidationErrors=false`): the tests collect them
and assert there are none, which gives a readable failure instead of an exception in a fixture.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # infra_synth: the Synth type the tests import

from infra_synth import BUDGETS, EXISTING, Synth, synthesize  # noqa: E402


@pytest.fixture(scope="session")
def default_synth(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    """The app as `cdk synth` builds it from cdk.json: a new bucket and a new secret."""
    return synthesize(tmp_path_factory.mktemp("cdk-default"))


@pytest.fixture(scope="session")
def existing_synth(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    """An existing bucket and secret, with both email subscriptions."""
    return synthesize(tmp_path_factory.mktemp("cdk-existing"), **EXISTING)


@pytest.fixture(scope="session")
def destroy_synth(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    """removalPolicy=destroy: a throwaway deployment whose data goes with the stack."""
    return synthesize(tmp_path_factory.mktemp("cdk-destroy"), removalPolicy="destroy")


@pytest.fixture(scope="session")
def budget_synth(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    """Spend budgets (daily and monthly, budgetAction=fail) and a price of its own."""
    return synthesize(tmp_path_factory.mktemp("cdk-budget"), **BUDGETS)


@pytest.fixture(scope="session", params=["default", "existing", "destroy"])
def any_synth(request: pytest.FixtureRequest) -> Synth:
    synth: Synth = request.getfixturevalue(f"{request.param}_synth")
    return synth
