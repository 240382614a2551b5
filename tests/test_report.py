"""The persona-consistency report and its state-signal check."""

from __future__ import annotations

import json

import numpy as np
import pytest

from convenv.training.headroom import ProbedStates, signal_check, verdict


def states(n_personas: int, per: int, responsive: bool, seed: int) -> ProbedStates:
    """Synthetic probed states: with ``responsive``, the code that pays is the one the
    observation's first coordinate names; otherwise gains are noise around a per-turn
    best code that does not depend on the observation."""
    rng = np.random.default_rng(seed)
    n = n_personas * per
    observations = rng.normal(size=(n, 6))
    turns = np.tile(np.arange(per) % 4, n_personas)
    gains = rng.normal(0, 0.01, size=(n, 5))
    if responsive:
        gains[np.arange(n), (observations[:, 0] > 0).astype(int) + 2] += 0.1
    else:
        gains[np.arange(n), turns % 5] += 0.05
    return ProbedStates(np.repeat(np.arange(n_personas), per), turns, observations, gains)


def test_the_check_finds_signal_where_the_observation_names_the_paying_code():
    check = signal_check(states(40, 8, True, 0), states(40, 8, True, 1), resamples=300)
    assert check["model − constant"][1] > 0.03  # the interval's low end
    assert verdict(check).startswith("adaptive headroom")


def test_the_check_reports_no_headroom_where_the_observation_says_nothing():
    check = signal_check(states(40, 8, False, 0), states(40, 8, False, 1), resamples=300)
    value, low, _ = check["model − constant"]
    assert low <= 0 and abs(value) < 0.01
    assert verdict(check).startswith("no adaptive headroom")
    best = check["best code in hindsight (cheats)"][0]
    assert best >= check["per-turn constant"][0] >= check["random code"][0]


@pytest.mark.slow
def test_the_report_runs_end_to_end_on_a_tiny_chat_model(tmp_path):
    from convenv.tiny_models import build_tiny_chat_model
    from convenv.training.report import main

    model = build_tiny_chat_model(tmp_path / "tiny", context=512)
    out = tmp_path / "report"
    assert main([
        "--partner", "chat", "--model", str(model), "--limit", "2", "--repeats", "1",
        "--search-episodes", "2", "--dialogs", "2", "--probe-episodes", "4", "--n-envs", "4",
        "--max-turns", "2", "--calibration-episodes", "4",
        "--out", str(out), "--no-progress",
    ]) == 0  # fmt: skip
    report = (out / "report.md").read_text()
    for part in ("impostor=random", "impostor=overlap", "impostor=swap", "lookahead (cheats)",
                 "claim − best fixed", "per-turn constant", "| figure | people |",
                 "contradiction rate"):  # fmt: skip
        assert part in report
    summary = json.loads((out / "report.json").read_text())
    assert summary["partner"].startswith("chat (") and len(summary["authentication"]) == 3
    assert "adaptive headroom" in summary["verdict"]
    assert (out / "authentication" / "curves.png").stat().st_size > 0
    assert json.loads((out / "run.json").read_text())["job"] == "report"


def test_report_parts_run_alone_and_the_report_holds_only_them(tmp_path, default_components):
    from convenv.training.report import main

    out = tmp_path / "report"
    assert main([
        "--partner", "retrieval", "--parts", "signal", "replay", "--dialogs", "3",
        "--probe-episodes", "3", "--n-envs", "3", "--max-turns", "2", "--out", str(out),
        "--no-progress",
    ]) == 0  # fmt: skip
    report = (out / "report.md").read_text()
    assert "Authentication on held-out personas" not in report
    # The signal check before the replay, as in the full report.
    assert report.index("which code pays next") < report.index("Replayed in people's place")
    summary = json.loads((out / "report.json").read_text())
    assert set(summary) == {"partner", "signal_check", "verdict", "fidelity"}
    assert not (out / "authentication").exists()
