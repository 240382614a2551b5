"""The installed names: convenv never shadows a user's own agents/, policies/, training/."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# Runs in a directory that holds the user's own `agents` package, as RL projects often do.
USER_SCRIPT = textwrap.dedent(
    """
    import hashlib, re
    import numpy as np
    import gymnasium as gym
    import agents.base
    import convenv
    from convenv.identifier import PersonaIdentifier

    assert agents.base.MINE == "the user's own agents package"

    class Encoder:
        dim = 16
        def encode(self, texts):
            out = np.zeros((len(texts), self.dim), np.float32)
            for i, text in enumerate(texts):
                for word in re.findall(r"[a-z]+", text.lower()):
                    out[i, int(hashlib.md5(word.encode()).hexdigest(), 16) % self.dim] += 1
                out[i] /= max(np.linalg.norm(out[i]), 1e-9)
            return out

    class Speaker:
        def respond(self, contexts):
            return [f"i like {c.goal or 'dogs'}" for c in contexts]

    env = gym.make(
        "convenv/PersonaInterview-v1",
        partner=Speaker(), interviewer=Speaker(), identifier=PersonaIdentifier(Encoder()),
    )
    env.reset(seed=0)
    env.step(1)
    from convenv.agents.base import DialogContext
    print("OK", DialogContext.__module__)
    """
)


def test_user_agents_package_does_not_shadow_convenv(tmp_path: Path) -> None:
    user = tmp_path / "agents"
    user.mkdir()
    (user / "__init__.py").write_text("")
    (user / "base.py").write_text('MINE = "the user\'s own agents package"\n')
    (tmp_path / "script.py").write_text(USER_SCRIPT)
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "script.py"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "OK convenv.agents.base" in done.stdout


def _run(args: list[str], cwd: Path, timeout: float = 600) -> str:
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{args}: {done.stdout[-1500:]}\n{done.stderr[-3000:]}"
    return done.stdout


def _readme_snippet() -> str:
    text = (REPO / "README.md").read_text()
    start = text.index("```python\nimport gymnasium as gym")
    return text[start + len("```python\n") : text.index("```", start + 10)]


@pytest.mark.slow
def test_wheel_installs_and_runs_in_a_fresh_venv(tmp_path: Path) -> None:
    """Build the wheel, install it alone into a new venv, run --help, the README
    snippet and a two-persona bench from a directory outside the repository."""
    # A copy of the sources: setuptools' build/ folder must not go stale in the checkout.
    source = tmp_path / "source"
    shutil.copytree(
        REPO, source, ignore=shutil.ignore_patterns(".venv", ".git", "build", "runs", "*.egg-info")
    )
    dist = tmp_path / "dist"
    _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "-w", str(dist), str(source)],
        tmp_path,
    )  # fmt: skip
    (wheel,) = dist.glob("convenv-*.whl")
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], tmp_path)
    python = venv / "bin" / "python"
    fresh_site = Path(
        _run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
             tmp_path).strip()
    )  # fmt: skip
    # The dependencies (torch, transformers, ...) come from this venv's site-packages,
    # added as a plain path: its .pth files (the editable install's finder) stay inert.
    (fresh_site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
         "--quiet", str(wheel)],
        tmp_path,
    )  # fmt: skip
    installed = {p.name for p in fresh_site.iterdir()}
    assert "convenv" in installed
    assert not {"agents", "policies", "training", "data"} & installed
    for sub in ("agents", "policies", "training", "data"):
        assert (fresh_site / "convenv" / sub / "__init__.py").exists()
    assert (fresh_site / "convenv" / "data" / "goal_questions.csv").exists()
    assert (fresh_site / "convenv" / "py.typed").exists()

    work = tmp_path / "work"
    work.mkdir()
    origin = _run([str(python), "-c", "import convenv; print(convenv.__file__)"], work)
    assert origin.startswith(str(fresh_site))
    assert "commands:" in _run([str(venv / "bin" / "convenv"), "--help"], work)
    snippet = work / "snippet.py"
    snippet.write_text(_readme_snippet())
    assert "persona:" in _run([str(python), str(snippet)], work)
    table = _run(
        [str(venv / "bin" / "convenv"), "bench", "--limit", "2", "--policies", "random",
         "round-robin", "--out", str(work / "bench"), "--no-progress"],
        work,
    )  # fmt: skip
    assert "| random |" in table
    assert (work / "bench" / "episodes.csv").exists() and (work / "bench" / "run.json").exists()


def test_a_missing_ray_extra_names_it(monkeypatch):
    from convenv.errors import MissingDependencyError
    from convenv.ray_support import require_ray

    monkeypatch.setitem(sys.modules, "ray.tune", None)  # what import sees without the extra
    with pytest.raises(MissingDependencyError, match=r"convenv tune needs Ray.*convenv\[ray\]"):
        require_ray("ray.tune", "convenv tune")
