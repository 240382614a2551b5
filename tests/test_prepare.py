"""``convenv prepare`` builds (or finds) every cache the jobs need."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow


def test_prepare_builds_every_part(default_components, capsys):
    from convenv.cache import default_cache_dir
    from convenv.cli import main

    assert main(["prepare"]) == 0
    out = capsys.readouterr().out
    for part in ("default", "consistent", "filtered"):
        assert f"{part}" in out and "ready in" in out
    assert any(default_cache_dir().glob("embeddings-*.npy"))
    from convenv.defaults import consistent_partner

    sentences, matrix = consistent_partner().pool_sentences()
    assert len(sentences) == len(matrix) > 10_000
