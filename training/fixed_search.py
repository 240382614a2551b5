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

from convenv.env import PersonaInterviewEnv
from convenv.errors import DataFileError, InvalidArgumentError
from convenv.policies.simple import FixedSequencePolicy
from convenv.training.rollout import episode_design, run_episodes
from convenv.training.turn_objective import turn_objective


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
    env: PersonaInterviewEnv,
    episodes: int = 256,
    seed: int = 12345,
    batch_size: int = 64,
    progress: bool = True,
) -> FixedSequence:
    """Greedy search over codes, turn by turn, on ``env``'s personas (pass a train env).

    Each candidate prefix plays the same ``episodes`` seeds, so candidates differ only
    in the codes; ties go to the lower code index.
    """
    if episodes < 2:
        raise InvalidArgumentError(f"episodes={episodes!r}; pass at least 2 search episodes.")
    engine = env.engine
    n_codes, turns = len(engine.actions), engine.max_turns
    seeds = [seed * 7_919 + k for k in range(episodes)]
    sequence: list[int] = []
    objective: list[float] = []
    bar = tqdm(total=turns * n_codes, desc="best fixed sequence", disable=not progress)
    for turn in range(1, turns + 1):
        values = []
        for code in range(n_codes):
            # The rest of the episode repeats the code; only the first `turn` matter here.
            policy = FixedSequencePolicy([*sequence, code], n_codes)
            records = list(run_episodes(env, policy, seeds, None, batch_size, progress=False))
            values.append(turn_objective(records, turn, engine.task, engine.reward_metric))
            bar.update(1)
        best = max(range(n_codes), key=lambda c: (values[c], -c))
        sequence.append(best)
        objective.append(values[best])
    bar.close()
    return FixedSequence(
        sequence=sequence,
        labels=[engine.actions[a].label for a in sequence],
        task=engine.task,
        objective=objective,
        episodes=episodes,
        seed=seed,
        settings=episode_design(env),
    )
