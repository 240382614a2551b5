"""One interview logic for one env or many: every stage is a single batched call.

:class:`PersonaInterviewEnv` drives a batch of one; the batched vector envs drive a
batch of N through the very same :meth:`InterviewEngine.step`. What differs between
tasks (who the partner is, what is observed, how the reward is signed) comes from the
engine's :class:`~convenv.tasks.Task`; the engine never asks which task it runs.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from gymnasium import spaces

from convenv.actions import ActionSet
from convenv.agents.base import DialogContext
from convenv.batching import LastBatch, padded_stack
from convenv.candidates import CandidatePool
from convenv.errors import InvalidArgumentError, positive_int
from convenv.identifier import Identification
from convenv.metrics import check_metric_name, ranking_metrics_batch
from convenv.personachat import Persona, as_persona
from convenv.records import EpisodeRecord
from convenv.tasks import ObservationBatch, Task, TaskSetting

REWARD_MODES = ("delta", "terminal")
NEGATIVE_KINDS = ("random", "hard")


@dataclass
class InterviewEpisode:
    """The state of one interview: who the partner is and what has been said.

    ``claim`` is the persona whose facts are scored: the partner's own where the task
    has no claim to verify, else the claimed one (``genuine`` says whether the partner
    is that persona; ``None`` where there is no claim). ``task_state`` holds what the
    task keeps per episode.
    """

    persona: Persona
    candidates: tuple[str, ...]
    is_true: np.ndarray
    seeds: list[list[int]]  # per turn: the interviewer's and the partner's seed
    identification: Identification
    # Sum of the partner's answer embeddings ⊕ uses of each code: the observation's counters.
    totals: np.ndarray
    history: list[str] = field(default_factory=list)
    actions: list[int] = field(default_factory=list)
    metrics: list[dict[str, float]] = field(default_factory=list)
    claim: Persona = ()
    genuine: bool | None = None
    task_state: Any = None
    # What stays the same for the partner all dialog long (its talkativeness): the first
    # partner seed. Its own field so that a fork can redraw a turn's seeds without
    # changing who the partner is.
    dialog_seed: int | None = None

    @property
    def turn(self) -> int:
        return len(self.actions)


@dataclass
class TurnBatch:
    """One turn of N episodes: row ``i`` of every array belongs to episode ``i``."""

    observations: np.ndarray  # (N, observation dim) float32
    rewards: np.ndarray  # (N,) float64
    terminated: np.ndarray  # (N,) bool
    infos: list[dict]


class InterviewEngine:
    """Runs interview turns for a batch of episodes.

    Every stage of :meth:`step` is one call for the whole batch (interviewer, partner,
    identifier), and the bookkeeping (metrics, rewards, observations) is array code
    over the batch, so N episodes cost little more than one.

    Args:
        actions: The action codes.
        partner: Answers in character (a :class:`~convenv.agents.base.DialogAgent`).
        interviewer: Turns an action code into a question (a DialogAgent).
        identifier: Ranks candidate facts (a :class:`~convenv.identifier.PersonaIdentifier`
            or anything with its ``encoder``, ``begin`` and ``hear``, which returns the
            batch's ``(N, most candidates)`` scores).
        task: What the episodes are for (a :class:`~convenv.tasks.Task`; the engine binds
            a copy of it).
        max_turns: Questions per episode.
        n_negatives: Wrong facts among the candidates.
        reward_mode: ``"delta"`` (per-turn change of the metric; the returns sum to the
            final metric) or ``"terminal"`` (the final metric, once).
        reward_metric: Which metric is rewarded.
        negatives: ``"random"`` wrong facts (convogym's protocol) or ``"hard"``: the
            facts of other personas nearest the true ones (same topic), paraphrases
            excluded.
        topic_encoder: What "nearest" means for hard negatives (default: the
            identifier's encoder; pass one encoder to compare identifiers fairly).
    """

    def __init__(
        self,
        actions: ActionSet,
        partner,
        interviewer,
        identifier,
        task: Task,
        max_turns: int = 8,
        n_negatives: int = 20,
        reward_mode: str = "delta",
        reward_metric: str = "auc",
        negatives: str = "random",
        topic_encoder=None,
    ) -> None:
        if negatives not in NEGATIVE_KINDS:
            raise InvalidArgumentError(f"negatives={negatives!r}; pass one of {NEGATIVE_KINDS}.")
        if not isinstance(task, Task):
            raise InvalidArgumentError(
                f"task={task!r}; pass a convenv.tasks.Task (or its registered name to the env)."
            )
        max_turns = positive_int(max_turns, "max_turns")
        n_negatives = positive_int(n_negatives, "n_negatives")
        if reward_mode not in REWARD_MODES:
            raise InvalidArgumentError(f"reward_mode={reward_mode!r}; pass one of {REWARD_MODES}.")
        for name, agent in (("partner", partner), ("interviewer", interviewer)):
            if not callable(getattr(agent, "respond", None)):
                raise InvalidArgumentError(
                    f"{name}={agent!r} has no respond(contexts) method; pass a DialogAgent."
                )
        for method in ("begin", "hear"):
            if not callable(getattr(identifier, method, None)):
                raise InvalidArgumentError(
                    f"identifier={identifier!r} has no {method}() method; "
                    "pass a convenv.identifier.PersonaIdentifier."
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
        self.negatives = negatives
        # Hard negatives are the facts nearest the true ones by this encoder.
        self._topics = topic_encoder or identifier.encoder
        self._hard_encoder = self._topics if negatives == "hard" else None
        self.task = task.bind(TaskSetting(actions, identifier.encoder, max_turns, reward_metric))
        self.observation_space = self.task.observation_space
        self.action_space = spaces.Discrete(len(actions))
        # A vector env steps the same episodes until one ends: stack their state once.
        self._totals = LastBatch(self._stack_totals, self._totals_of_one)
        self._masks = LastBatch(self._candidate_masks, self._masks_of_one)

    def dialog_slice(self) -> slice:
        """Where the observation holds what the partner said (see :meth:`Task.dialog_slice`)."""
        return self.task.dialog_slice()

    def design(self) -> dict[str, Any]:
        """Everything that shapes the episodes (not which personas are drawn): what a
        searched baseline depends on and what a self-play file records."""
        return {
            **self.task.design(),
            "max_turns": self.max_turns,
            "n_negatives": self.n_negatives,
            "negatives": self.negatives,
            "reward_metric": self.reward_metric,
            "reward_mode": self.reward_mode,
            "actions": [a.prompt for a in self.actions],
            "partner": type(self.partner).__name__,
            "interviewer": type(self.interviewer).__name__,
            "identifier_encoder": getattr(self.identifier.encoder, "model_id", None),
        }

    def start(
        self,
        rng: np.random.Generator,
        personas: Sequence[Persona],
        pool: CandidatePool,
        options: Mapping | None = None,
    ) -> InterviewEpisode:
        """A new episode: persona and candidates drawn from ``rng`` (or pinned by options).

        ``options`` may hold ``persona`` (a list of facts) or ``persona_index``: the
        episode's claim (the partner's own persona where the task has no claim to
        verify), and whatever the task reads (``task.reset_option_keys``).
        """
        options = options or {}
        known = {"persona", "persona_index"} | set(self.task.reset_option_keys)
        unknown = set(options) - known if options else ()
        if unknown:
            raise InvalidArgumentError(
                f"options has unknown keys {sorted(unknown)}; use {sorted(known)}."
            )
        if "persona" in options and "persona_index" in options:
            raise InvalidArgumentError(
                "options has both 'persona' and 'persona_index'; pass one of them."
            )
        if "persona" in options:
            claim = as_persona(options["persona"], "options['persona']")
        elif "persona_index" in options:
            index = options["persona_index"]
            if not isinstance(index, (int, np.integer)) or not 0 <= index < len(personas):
                raise InvalidArgumentError(
                    f"options['persona_index']={index!r}; "
                    f"pass an index in [0, {len(personas) - 1}]."
                )
            claim = personas[int(index)]
        else:
            claim = personas[int(rng.integers(len(personas)))]
        if self.n_negatives > len(pool) - len(claim):
            raise InvalidArgumentError(
                f"n_negatives={self.n_negatives} is more than the {len(pool)}-fact candidate "
                f"pool leaves beside a {len(claim)}-fact persona; pass a smaller n_negatives "
                "or more personas."
            )
        who = self.task.start(
            claim, personas, pool.facts, rng, options,
            lambda fact: pool.nearest(fact, self._topics),
        )  # fmt: skip
        candidates, truth, rows = pool.draw(claim, self.n_negatives, rng, self._hard_encoder)
        # The episode's own seeds, drawn now: they do not depend on which batch it runs in.
        seeds = (rng.random((self.max_turns, 2)) * 2**31).astype(np.int64).tolist()
        identification = self.identifier.begin(
            candidates, pool.vectors(rows, self.identifier.encoder)
        )
        totals = np.zeros(self.dim + len(self.actions), np.float32)
        episode = InterviewEpisode(
            who.persona, candidates, truth, seeds, identification, totals, claim=claim,
            genuine=who.genuine, dialog_seed=seeds[0][1],
        )  # fmt: skip
        self.task.prepare_episode(episode)
        return episode

    def observation(self, episode: InterviewEpisode) -> np.ndarray:
        """The observation of one episode (what reset returns)."""
        return self.observations([episode])[0]

    def observations(self, episodes: Sequence[InterviewEpisode]) -> np.ndarray:
        """The observations of N episodes as one ``(N, observation dim)`` array."""
        scores = padded_stack([e.identification.scores for e in episodes], np.float32)
        truth, valid = self._masks(episodes)
        return self._observe(episodes, self._totals(episodes), scores, truth, valid)

    def _observe(self, episodes, totals, scores, truth, valid) -> np.ndarray:
        turns = np.array([e.turn for e in episodes])
        batch = ObservationBatch(
            episodes, totals[:, : self.dim], totals[:, self.dim :], turns, scores, truth, valid
        )
        return self.task.observe(batch)

    @staticmethod
    def _stack_totals(episodes: Sequence[InterviewEpisode]) -> np.ndarray:
        """The episodes' counters as one array; each episode's ``totals`` becomes a view
        of its row, so adding to the stack adds to every episode."""
        totals = padded_stack([e.totals for e in episodes])
        for i, episode in enumerate(episodes):
            episode.totals = totals[i]
        return totals

    @staticmethod
    def _totals_of_one(episode: InterviewEpisode) -> np.ndarray:
        return episode.totals[None]

    @staticmethod
    def _masks_of_one(episode: InterviewEpisode) -> tuple[np.ndarray, np.ndarray]:
        return episode.is_true[None], np.ones((1, len(episode.is_true)), bool)

    @staticmethod
    def _candidate_masks(episodes: Sequence[InterviewEpisode]) -> tuple[np.ndarray, np.ndarray]:
        """Which candidates are true and which exist, as ``(N, most candidates)`` arrays."""
        truth = padded_stack([e.is_true for e in episodes])
        sizes = np.array([len(e.is_true) for e in episodes])
        return truth, np.arange(truth.shape[1]) < sizes[:, None]

    def step(self, episodes: Sequence[InterviewEpisode], actions: Sequence) -> TurnBatch:
        """One turn of every episode: one interviewer, one partner, one identifier call."""
        if len(episodes) != len(actions):
            raise InvalidArgumentError(f"{len(actions)} actions for {len(episodes)} episodes.")
        indices, codes = self.actions.codes(actions)
        turns = [len(e.actions) for e in episodes]
        if max(turns, default=0) >= self.max_turns:
            raise InvalidArgumentError("step() called on a finished episode; call reset() first.")
        histories = [tuple(e.history) for e in episodes]
        focus = self.task.interviewer_focus
        questions = self._spoken(
            "interviewer",
            self.interviewer.respond(
                [
                    DialogContext(h, goal=c.prompt, seed=e.seeds[t][0], focus=focus(e, k))
                    for e, h, c, k, t in zip(
                        episodes, histories, codes, indices, turns, strict=True
                    )
                ]
            ),
            len(episodes),
        )
        answers = self._spoken(
            "partner",
            self.partner.respond(
                [
                    DialogContext((*h, q), e.persona, seed=e.seeds[t][1], dialog_seed=e.dialog_seed)
                    for e, h, q, t in zip(episodes, histories, questions, turns, strict=True)
                ]
            ),
            len(episodes),
        )
        # The counters gain this turn's answer embedding and one use of its code.
        totals = self._totals(episodes)
        if self.task.observes_answers:
            # A task that observes only the identifier's scores skips this encoder call (a
            # partner that composes new answer text would otherwise pay for one per step).
            totals[:, : self.dim] += self.identifier.encoder.encode(answers)
        totals[np.arange(len(episodes)), self.dim + np.asarray(indices)] += 1
        scores = self.identifier.hear([e.identification for e in episodes], answers)
        for e, a, q, r in zip(episodes, indices, questions, answers, strict=True):
            e.actions.append(a)
            e.history += (q, r)

        truth, valid = self._masks(episodes)
        metrics = ranking_metrics_batch(scores, truth, valid)
        names = list(metrics)
        columns = [metrics[name].tolist() for name in names]
        rows = [dict(zip(names, values, strict=True)) for values in zip(*columns, strict=True)]
        current = metrics[self.reward_metric]
        origin = self.task.reward_origin()
        previous = np.array(
            [e.metrics[-1][self.reward_metric] if e.metrics else origin for e in episodes]
        )
        done = np.array(turns) + 1 >= self.max_turns
        if self.reward_mode == "delta":
            rewards = current - previous
        else:
            rewards = np.where(done, current - origin, 0.0)
        rewards = rewards * self.task.signs(episodes)
        infos = []
        for e, code, row, ended in zip(episodes, codes, rows, done, strict=True):
            e.metrics.append(row)
            info = {
                "turn": e.turn,
                "code": code.prompt,
                "label": code.label,
                "question": e.history[-2],
                "answer": e.history[-1],
                "metrics": row,
                **self.task.step_info(e, bool(ended)),
            }
            infos.append(info)
        observations = self._observe(episodes, totals, scores, truth, valid)
        return TurnBatch(observations, rewards, done, infos)

    @staticmethod
    def _spoken(role: str, said, expected: int) -> list[str]:
        """What an agent returned, checked: one string per context."""
        if isinstance(said, str) or not isinstance(said, (list, tuple)) or len(said) != expected:
            shown = repr(said)[:80]
            raise InvalidArgumentError(
                f"the {role}'s respond(contexts) returned {shown}; return a list with one "
                f"string per context ({expected} here)."
            )
        if not all(isinstance(s, str) for s in said):
            bad = next(s for s in said if not isinstance(s, str))
            raise InvalidArgumentError(
                f"the {role}'s respond(contexts) returned a {type(bad).__name__} "
                f"({bad!r:.60}); return one string per context."
            )
        return list(said)

    def fork(self, episode: InterviewEpisode) -> InterviewEpisode:
        """An independent copy of ``episode`` to try a turn in (its steps change
        nothing of the original)."""
        return copy.deepcopy(episode)

    def record(
        self, episode: InterviewEpisode, seed: int, policy: str, rewards: Sequence[float]
    ) -> EpisodeRecord:
        """The record of a finished episode."""
        return EpisodeRecord(
            seed=int(seed),
            persona=list(episode.persona),
            candidates=list(episode.candidates),
            is_true=[bool(t) for t in episode.is_true],
            actions=list(episode.actions),
            codes=[self.actions[a].prompt for a in episode.actions],
            utterances=list(episode.history),
            metrics=list(episode.metrics),
            policy=policy,
            claim=list(episode.claim),
            genuine=episode.genuine,
            rewards=list(rewards),
        )

    def transcript(self, episode: InterviewEpisode) -> str:
        """The dialog so far as text, with the partner's persona and the current ranking."""
        lines = ["persona: " + " | ".join(episode.persona)]
        if episode.genuine is not None:
            truth = "genuine" if episode.genuine else "impostor"
            lines = ["claim: " + " | ".join(episode.claim), f"partner ({truth}): " + lines[0][9:]]
        for turn, action in enumerate(episode.actions):
            lines.append(f"[{self.actions[action].label}]")
            lines.append(f"  Q: {episode.history[2 * turn]}")
            lines.append(f"  A: {episode.history[2 * turn + 1]}")
        if episode.metrics:
            shown = ", ".join(f"{k}={v:.2f}" for k, v in episode.metrics[-1].items())
            lines.append(f"identification: {shown}")
        return "\n".join(lines) + "\n"
