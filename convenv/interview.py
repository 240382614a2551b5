"""One interview logic for one env or many: every stage is a single batched call.

:class:`PersonaInterviewEnv` drives a batch of one; the batched vector env drives a
batch of N through the very same :meth:`InterviewEngine.step`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from gymnasium import spaces

from agents.base import DialogContext
from convenv.actions import ActionSet
from convenv.errors import InvalidArgumentError
from convenv.metrics import check_metric_name, ranking_metrics
from convenv.personachat import Persona, as_persona
from convenv.reference import sample_candidates

REWARD_MODES = ("delta", "terminal")


@dataclass
class InterviewEpisode:
    """The state of one interview: who the partner is and what has been said."""

    persona: Persona
    candidates: tuple[str, ...]
    is_true: np.ndarray
    rng: np.random.Generator
    n_actions: int
    history: list[str] = field(default_factory=list)
    actions: list[int] = field(default_factory=list)
    metrics: list[dict[str, float]] = field(default_factory=list)
    partner_vectors: list[np.ndarray] = field(default_factory=list)

    @property
    def turn(self) -> int:
        return len(self.actions)

    @property
    def partner_utterances(self) -> list[str]:
        return self.history[1::2]

    def action_counts(self) -> np.ndarray:
        return np.bincount(np.asarray(self.actions, dtype=np.int64), minlength=self.n_actions)


@dataclass
class TurnResult:
    observation: np.ndarray
    reward: float
    terminated: bool
    info: dict


class InterviewEngine:
    """Runs interview turns for a batch of episodes.

    Args:
        actions: The action codes.
        partner: Answers in character (a :class:`~agents.base.DialogAgent`).
        interviewer: Turns an action code into a question (a DialogAgent).
        identifier: Ranks candidate facts (``score_batch`` and ``encoder``).
        max_turns: Questions per episode.
        n_negatives: Wrong facts among the candidates.
        reward_mode: ``"delta"`` (per-turn change of the metric; the returns sum to the
            final metric) or ``"terminal"`` (the final metric, once).
        reward_metric: Which metric is rewarded.
    """

    def __init__(
        self,
        actions: ActionSet,
        partner,
        interviewer,
        identifier,
        max_turns: int = 8,
        n_negatives: int = 20,
        reward_mode: str = "delta",
        reward_metric: str = "auc",
    ) -> None:
        if not isinstance(max_turns, int) or max_turns < 1:
            raise InvalidArgumentError(f"max_turns={max_turns!r}; pass a positive integer.")
        if not isinstance(n_negatives, int) or n_negatives < 1:
            raise InvalidArgumentError(f"n_negatives={n_negatives!r}; pass a positive integer.")
        if reward_mode not in REWARD_MODES:
            raise InvalidArgumentError(f"reward_mode={reward_mode!r}; pass one of {REWARD_MODES}.")
        for name, agent in (("partner", partner), ("interviewer", interviewer)):
            if not callable(getattr(agent, "respond", None)):
                raise InvalidArgumentError(
                    f"{name}={agent!r} has no respond(contexts) method; pass a DialogAgent."
                )
        self.actions = actions
        self.partner = partner
        self.interviewer = interviewer
        self.identifier = identifier
        self.max_turns = max_turns
        self.n_negatives = n_negatives
        self.reward_mode = reward_mode
        self.reward_metric = check_metric_name(reward_metric, "reward_metric")
        self.dim = int(identifier.encoder.dim)
        n = len(actions)
        self.observation_space = spaces.Box(
            -1.0, 1.0, shape=(self.dim + 2 * n + 1,), dtype=np.float32
        )
        self.action_space = spaces.Discrete(n)

    def start(
        self,
        rng: np.random.Generator,
        personas: Sequence[Persona],
        facts: Sequence[str],
        options: Mapping | None = None,
    ) -> InterviewEpisode:
        """A new episode: persona and candidates drawn from ``rng`` (or pinned by options).

        ``options`` may hold ``persona`` (a list of facts) or ``persona_index``.
        """
        options = dict(options or {})
        unknown = set(options) - {"persona", "persona_index"}
        if unknown:
            raise InvalidArgumentError(
                f"options has unknown keys {sorted(unknown)}; use 'persona' or 'persona_index'."
            )
        if "persona" in options:
            persona = as_persona(options["persona"], "options['persona']")
        elif "persona_index" in options:
            index = options["persona_index"]
            if not isinstance(index, (int, np.integer)) or not 0 <= index < len(personas):
                raise InvalidArgumentError(
                    f"options['persona_index']={index!r}; "
                    f"pass an index in [0, {len(personas) - 1}]."
                )
            persona = personas[int(index)]
        else:
            persona = personas[int(rng.integers(len(personas)))]
        candidates, truth = sample_candidates(persona, facts, self.n_negatives, rng)
        # The episode's own generator: turn seeds do not depend on which batch it runs in.
        episode_rng = np.random.default_rng(rng.integers(2**63))
        return InterviewEpisode(persona, candidates, truth, episode_rng, len(self.actions))

    def observation(self, episode: InterviewEpisode) -> np.ndarray:
        """Mean embedding of the partner's answers ⊕ codes used (0/1) ⊕ use fractions ⊕ turn."""
        said = (
            np.mean(episode.partner_vectors, axis=0)
            if episode.partner_vectors
            else np.zeros(self.dim, np.float32)
        )
        counts = episode.action_counts()
        # A 0/1 "already asked" flag per code: a count fraction moves by only 1/max_turns
        # per use, too small a signal for a policy network to pick up quickly.
        used = np.minimum(counts, 1)
        obs = np.concatenate([said, used, counts / self.max_turns, [episode.turn / self.max_turns]])
        return np.clip(obs, -1.0, 1.0).astype(np.float32)

    def step(self, episodes: Sequence[InterviewEpisode], actions: Sequence) -> list[TurnResult]:
        """One turn of every episode: one interviewer, one partner, one identifier call."""
        if len(episodes) != len(actions):
            raise InvalidArgumentError(f"{len(actions)} actions for {len(episodes)} episodes.")
        codes = [self.actions.code(a) for a in actions]
        for episode in episodes:
            if episode.turn >= self.max_turns:
                raise InvalidArgumentError(
                    "step() called on a finished episode; call reset() first."
                )
        questions = self.interviewer.respond(
            [
                DialogContext(tuple(e.history), goal=c.prompt, seed=int(e.rng.integers(2**31)))
                for e, c in zip(episodes, codes, strict=True)
            ]
        )
        answers = self.partner.respond(
            [
                DialogContext((*e.history, q), persona=e.persona, seed=int(e.rng.integers(2**31)))
                for e, q in zip(episodes, questions, strict=True)
            ]
        )
        answer_vectors = self.identifier.encoder.encode(answers)
        for e, a, q, r, v in zip(
            episodes, actions, questions, answers, answer_vectors, strict=True
        ):
            e.actions.append(int(a))
            e.history.extend([q, r])
            e.partner_vectors.append(v)
        scores = self.identifier.score_batch(
            [e.partner_utterances for e in episodes], [e.candidates for e in episodes]
        )
        results = []
        for e, code, s in zip(episodes, codes, scores, strict=True):
            metrics = ranking_metrics(s, e.is_true)
            previous = e.metrics[-1][self.reward_metric] if e.metrics else 0.0
            e.metrics.append(metrics)
            done = e.turn >= self.max_turns
            if self.reward_mode == "delta":
                reward = metrics[self.reward_metric] - previous
            else:
                reward = metrics[self.reward_metric] if done else 0.0
            info = {
                "turn": e.turn,
                "code": code.prompt,
                "label": code.label,
                "question": e.history[-2],
                "answer": e.history[-1],
                "metrics": metrics,
                "persona": e.persona,
            }
            results.append(TurnResult(self.observation(e), float(reward), done, info))
        return results

    def transcript(self, episode: InterviewEpisode) -> str:
        """The dialog so far as text, with the partner's persona and the current ranking."""
        lines = ["persona: " + " | ".join(episode.persona)]
        for turn, action in enumerate(episode.actions):
            lines.append(f"[{self.actions[action].label}]")
            lines.append(f"  Q: {episode.history[2 * turn]}")
            lines.append(f"  A: {episode.history[2 * turn + 1]}")
        if episode.metrics:
            shown = ", ".join(f"{k}={v:.2f}" for k, v in episode.metrics[-1].items())
            lines.append(f"identification: {shown}")
        return "\n".join(lines) + "\n"
