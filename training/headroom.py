"""Can learning pay against this partner? The state-signal check.

A learned interviewer can beat a fixed sequence of codes only if what it has heard
tells it which code pays next. The check measures that directly: episodes are played
with random codes, and at every state each of the codes is tried in a fork from the
same seeds (as the lookahead bound does), giving the gain each code *would* bring
there. A ridge model fitted on train personas' states then picks, on test personas'
states, the code with the best predicted gain from the observation alone. It is
compared with a per-turn constant (the code best on average at that turn on train
personas, which a fixed sequence can already play), a random code, and the best code
in hindsight (which knows the answers). Intervals resample personas.

If the model's pick is no better than the constant's, the observation carries no
adaptive signal: "no adaptive headroom", whatever the lookahead bound says.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from tqdm.auto import tqdm

from convenv.policies.lookahead import LookaheadPolicy
from convenv.rollout import run_episodes
from convenv.statistics import clustered_bootstrap

Interval = tuple[float, float, float]
RIDGE = 1.0  # the model's L2 penalty, on standardised features


@dataclass
class ProbedStates:
    """Every probed state: its persona (cluster), turn, observation and the gain each
    code brings there (``gains[i, k]``: signed reward metric after code ``k`` minus
    before)."""

    clusters: np.ndarray
    turns: np.ndarray
    observations: np.ndarray
    gains: np.ndarray


class ForkProbe(LookaheadPolicy):
    """Plays random codes (seeded per episode) and records, before each turn, the gain
    of every code tried in a fork. It reads the truth: a probe, never a policy."""

    name = "fork-probe"

    def __init__(self, n_codes: int, batch_size: int = 256) -> None:
        super().__init__(n_codes, batch_size)
        self.rngs: dict[int, np.random.Generator] = {}
        self.rows: list[tuple[tuple[str, ...], int, np.ndarray, np.ndarray]] = []

    def begin_episode(self, env_index: int, claim: Sequence[str], seed: int | None = None) -> None:
        self.rngs[env_index] = np.random.default_rng(seed)

    def act(self, observations: np.ndarray) -> np.ndarray:
        lanes = len(observations)
        values = self.fork_values(lanes)
        for lane in range(lanes):
            episode = self._episodes[lane]
            before = self.env.task.value(episode) if episode.metrics else 0.0
            self.rows.append(
                (tuple(episode.persona), len(episode.actions), observations[lane].copy(),
                 values[lane] - before)
            )  # fmt: skip
        return np.array([self.rngs[i].integers(self.n_codes) for i in range(lanes)], np.int64)


def probe(env, seeds: Sequence[int], batch_size: int = 16, progress: bool = True) -> ProbedStates:
    """The states of one random-code episode per seed, each code's gain at each."""
    prober = ForkProbe(env.action_space.n)
    for _ in run_episodes(env, prober, seeds, None, batch_size, progress):
        pass
    personas = {p: i for i, p in enumerate(dict.fromkeys(r[0] for r in prober.rows))}
    return ProbedStates(
        clusters=np.array([personas[r[0]] for r in prober.rows]),
        turns=np.array([r[1] for r in prober.rows]),
        observations=np.stack([r[2] for r in prober.rows]).astype(np.float64),
        gains=np.stack([r[3] for r in prober.rows]),
    )


def _features(states: ProbedStates, mean: np.ndarray, scale: np.ndarray, turns: int):
    standard = (states.observations - mean) / scale
    turn = np.eye(turns)[np.minimum(states.turns, turns - 1)]
    return np.hstack([standard, turn])


def signal_check(
    train: ProbedStates, test: ProbedStates, seed: int = 0, resamples: int = 2000
) -> dict[str, Interval]:
    """Mean gain on test states of the code each chooser picks, and the model's edge
    over the per-turn constant (persona-clustered intervals)."""
    turns = int(max(train.turns.max(), test.turns.max())) + 1
    mean = train.observations.mean(axis=0)
    scale = train.observations.std(axis=0) + 1e-6
    x = _features(train, mean, scale, turns)
    # Ridge regression of every code's gain on the observation and the turn.
    weights = np.linalg.solve(x.T @ x + RIDGE * np.eye(x.shape[1]), x.T @ train.gains)
    predicted = _features(test, mean, scale, turns) @ weights
    rows = np.arange(len(test.gains))
    constant_code = np.array(
        [train.gains[train.turns == t].mean(axis=0).argmax() if (train.turns == t).any() else 0
         for t in range(turns)]
    )  # fmt: skip
    picked = {
        "model (observation → code)": test.gains[rows, predicted.argmax(axis=1)],
        "per-turn constant": test.gains[rows, constant_code[test.turns]],
        "random code": test.gains.mean(axis=1),
        "best code in hindsight (cheats)": test.gains.max(axis=1),
    }
    result = {
        name: clustered_bootstrap(lambda idx, g=gains: g[idx].mean(), test.clusters,
                                  resamples, seed=seed)
        for name, gains in picked.items()
    }  # fmt: skip
    edge = picked["model (observation → code)"] - picked["per-turn constant"]
    result["model − constant"] = clustered_bootstrap(
        lambda idx: edge[idx].mean(), test.clusters, resamples, seed=seed
    )
    return result


def verdict(check: dict[str, Interval]) -> str:
    """One line a reader can act on."""
    value, low, _ = check["model − constant"]
    if low > 0:
        return (
            f"adaptive headroom: the observation predicts the next code's gain (model − "
            f"constant {value:+.3f}, interval above 0); a learned policy can beat a fixed one"
        )
    return (
        f"no adaptive headroom: the observation does not tell which code pays next "
        f"(model − constant {value:+.3f}, interval reaches 0 or below); a fixed sequence "
        "is as good as a learned policy against this partner"
    )


def markdown(check: dict[str, Interval], train_states: int, test_states: int) -> str:
    lines = [
        f"| chooser (gain of the code picked, {test_states} test states; fitted on "
        f"{train_states} train states) | mean [95% CI] |",
        "|---|---|",
    ]
    lines += [f"| {n} | {v:+.4f} [{lo:+.4f}, {hi:+.4f}] |" for n, (v, lo, hi) in check.items()]
    return "\n".join(lines) + f"\n\n**{verdict(check)}**"


def probe_both(make_env, episodes: int, seed: int, batch_size: int, progress: bool):
    """Probed states on train and on test personas (``make_env(split)`` builds each)."""
    states = {}
    for split in tqdm(("train", "test"), desc="signal check", disable=not progress):
        env = make_env(split)
        seeds = [seed * 1_000_003 + 7 + k for k in range(episodes)]
        states[split] = probe(env, seeds, batch_size, progress)
    return states["train"], states["test"]
