"""Shared fixtures: fast stand-ins for the encoder and agents, and the real offline default."""

from __future__ import annotations

import pytest

from convenv.testing import EchoPartner, GoalInterviewer, HashingEncoder


@pytest.fixture
def stub_env_kwargs():
    from convenv.identifier import PersonaIdentifier

    return {
        "partner": EchoPartner(),
        "interviewer": GoalInterviewer(),
        "identifier": PersonaIdentifier(HashingEncoder()),
    }


@pytest.fixture(scope="session")
def default_components():
    """The real embedded default (MiniLM + retrieval over Persona-Chat), built once."""
    from convenv.defaults import default_components as build

    return build()
