"""The best fixed sequence of codes: the baseline every learned policy must beat.

A fixed sequence ignores what the partner says and who it claims to be. It is
searched greedily on *train* personas (turn by turn, the code that most improves the
task's objective after that turn, given the codes chosen before), saved as JSON with
how it was found, and reloaded by the benchmark, so test personas never choose it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from tqdm.auto import tqdm

from convenv.errors import DataFileError, InvalidArgumentError
from convenv.policies.simple import FixedSequencePolicy
from convenv.rollout import run_episodes


@dataclass
class FixedSequence:
    """A searched sequence and how it was found (saved as JSON)."""

    sequence: list[int]
    labels: list[str]
    task: str
    objective: list[float]  # the objective after each turn, on the search episodes
    episodes: int
    seed: int
    settings: dict

    def policy(self, n_actions: int) -> FixedSequencePolicy:
        return FixedSequencePolicy(self.sequence, n_actions, name="best-fixed")

    def save(self, path: Path | str) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self), indent=2))
        return path

    @classmethod
    def load(cls, path: Path | str) -> FixedSequence:
        path = Path(path)
        try:
            data = json.loads(path.read_text())
            return cls(**data)
        except FileNotFoundError as err:
            raise InvalidArgumentError(
                f"best-fixed file {str(path)!r} does not exist; run the search first "
                "(convenv bench --policies best-fixed writes one)."
            ) from err
        except (json.JSONDecodeError, TypeError) as err:
            raise DataFileError(path, f"not a saved fixed sequence ({err})", "a JSON file") from err


def search_fixed_sequence(
    env,
    episodes: int = 256,
    seed: int = 12345,
    batch_size: int = 64,
    progress: bool = True,
) -> FixedSequence:
    """Greedy search over codes, turn by turn, on ``env``'s personas (pass a train env).

    Each candidate prefix plays the same ``episodes`` seeds, so candidates differ only
    in the codes; ties go to the lower code index. The objective is the task's
    (:meth:`convenv.tasks.Task.objective`), so the baseline is tuned for what it is
    scored on.
    """
    if episodes < 2:
        raise InvalidArgumentError(f"episodes={episodes!r}; pass at least 2 search episodes.")
    n_codes, turns = len(env.actions), env.max_turns
    seeds = [seed * 7_919 + k for k in range(episodes)]
    sequence: list[int] = []
    objective: list[float] = []
    bar = tqdm(total=turns * n_codes, desc="best fixed sequence", disable=not progress)
    for turn in range(1, turns + 1):
        values = []
        for code in range(n_codes):
            # Only the first `turn` questions matter here, so episodes stop there (a slow
            # generative partner pays for about half the turns of whole episodes).
            policy = FixedSequencePolicy([*sequence, code], n_codes)
            records = list(
                run_episodes(env, policy, seeds, None, batch_size, progress=False, turns=turn)
            )
            values.append(env.task.objective(records, turn))
            bar.update(1)
        best = max(range(n_codes), key=lambda c: (values[c], -c))
        sequence.append(best)
        objective.append(values[best])
    bar.close()
    return FixedSequence(
        sequence=sequence,
        labels=[env.actions[a].label for a in sequence],
        task=env.task.name,
        objective=objective,
        episodes=episodes,
        seed=seed,
        settings=env.design(),
    )


def best_fixed_policy(
    env,
    path: str | Path | None = None,
    work_dir: Path | None = None,
    episodes: int = 256,
    progress: bool = True,
    tag: str = "",
) -> FixedSequencePolicy:
    """The best-fixed policy for ``env``: loaded from ``path``, or from
    ``work_dir/best_fixed[_tag].json`` when that was searched for the same episode
    design, else searched on ``env``'s engine over training personas (and saved there)."""
    from convenv.splits import training_personas

    n = len(env.actions)
    if path is not None:
        return FixedSequence.load(path).policy(n)
    cache = (
        None if work_dir is None else Path(work_dir) / f"best_fixed{'_' + tag if tag else ''}.json"
    )
    if cache is not None and cache.exists():
        found = FixedSequence.load(cache)
        if found.settings == env.design() and found.episodes == episodes:
            return found.policy(n)
    search_env = env.with_personas("train", training_personas())
    found = search_fixed_sequence(search_env, episodes, progress=progress)
    if cache is not None:
        found.save(cache)
    return found.policy(n)
