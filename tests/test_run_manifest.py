"""run.json names the checkout a job started from."""

import json

from convenv import run_manifest


def test_the_commit_is_the_one_the_job_started_from(tmp_path, monkeypatch):
    # The checkout changes while the job runs: the run is credited to where it began.
    monkeypatch.setattr(run_manifest, "COMMIT_AT_START", "a" * 40)
    monkeypatch.setattr(run_manifest, "git_commit", lambda: "b" * 40 + "+dirty")
    path = run_manifest.write_run_manifest(tmp_path, "report", {"limit": 4}, started=0.0)
    manifest = json.loads(path.read_text())
    assert manifest["git_commit"] == "a" * 40
    assert manifest["git_commit_at_end"] == "b" * 40 + "+dirty"
    assert manifest["config"] == {"limit": 4} and manifest["job"] == "report"


def test_an_unchanged_checkout_is_recorded_once(tmp_path, monkeypatch):
    monkeypatch.setattr(run_manifest, "git_commit", lambda: run_manifest.COMMIT_AT_START)
    manifest = json.loads(run_manifest.write_run_manifest(tmp_path, "main", {}, 0.0).read_text())
    assert "git_commit_at_end" not in manifest
