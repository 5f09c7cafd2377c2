"""Fixtures shared by the core tests."""

import pytest

from tlgui.core.training import feature_cache


@pytest.fixture
def extractions(monkeypatch):
    """Counts backbone passes (capture_features calls)."""
    calls = []
    real = feature_cache.capture_features

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(feature_cache, "capture_features", counting)
    return calls
