"""One interview logic for one env or many: every stage is a single batched call.

:class:`PersonaInterviewEnv` drives a batch of one; the batched vector env drives a
batch of N through the very same :meth:`InterviewEngine.step`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from gymnasium import spaces

from convenv.actions import ActionSet
from convenv.agents.base import DialogContext
from convenv.agents.last_batch import LastBatch, padded_stack
from convenv.authentication import TASKS, ClaimObservation, ImpostorDesign, claim_positions
from convenv.errors import InvalidArgumentError, positive_int
from convenv.identifier import Identification
from convenv.metrics import check_metric_name, fact_support, ranking_metrics_batch
from convenv.personachat import Persona, as_persona
from convenv.reference import CandidatePool

REWARD_MODES = ("delta", "terminal")
NEGATIVE_KINDS = ("random", "hard")


@dataclass
class InterviewEpisode:
    """The state of one interview: who the partner is and what has been said.

    ``claim`` is the persona whose facts are scored: the partner's own in
    identification, the claimed one in authentication (``genuine`` says whether the
    partner is that persona; ``None`` in identification).
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
    claim_features: np.ndarray | None = None  # authentication: the claim's observation part
    claim_positions: np.ndarray | None = None  # authentication: claimed facts' candidate rows
    # What stays the same for the partner all dialog long (its talkativeness): the first
    # partner seed. Its own field so that a lookahead can redraw a turn's seeds without
    # changing who the partner is.
    dialog_seed: int | None = None

    @property
    def turn(self) -> int:
        return len(self.actions)

    @property
    def sign(self) -> float:
        """The reward's sign: −1 for an impostor (support for its claim is bad), else +1."""
        return -1.0 if self.genuine is False else 1.0


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
        max_turns: Questions per episode.
        n_negatives: Wrong facts among the candidates.
        reward_mode: ``"delta"`` (per-turn change of the metric; the returns sum to the
            final metric) or ``"terminal"`` (the final metric, once).
        reward_metric: Which metric is rewarded.
        task: ``"identification"`` (who is the partner?) or ``"authentication"`` (is
            the partner who it claims to be?: the metric scores the claimed facts and
            the reward is signed, + for a genuine partner, − for an impostor).
        impostors: How authentication draws partners (default :class:`ImpostorDesign`).
        negatives: ``"random"`` wrong facts (convogym's protocol) or ``"hard"``: the
            facts of other personas nearest the true ones (same topic), paraphrases
            excluded.
        topic_encoder: What "nearest" means for hard negatives (default: the
            identifier's encoder; pass one encoder to compare identifiers fairly).
        threshold: Authentication: the support that earns nothing; the returns sum to
            ``sign × (final support − threshold)``. Any constant leaves the best policy
            unchanged (``E[sign]`` does not depend on the actions), but a threshold near
            the typical final support removes most of the reward's variance, which
            otherwise comes from the coin flip of genuine vs impostor. 0.5 is chance.
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
        task: str = "identification",
        impostors: ImpostorDesign | None = None,
        threshold: float = 0.5,
        negatives: str = "random",
        topic_encoder=None,
    ) -> None:
        if negatives not in NEGATIVE_KINDS:
            raise InvalidArgumentError(f"negatives={negatives!r}; pass one of {NEGATIVE_KINDS}.")
        if task not in TASKS:
            raise InvalidArgumentError(f"task={task!r}; pass one of {TASKS}.")
        if impostors is not None and not isinstance(impostors, ImpostorDesign):
            raise InvalidArgumentError(
                f"impostors={impostors!r}; pass a convenv.authentication.ImpostorDesign."
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
        self.task = task
        number = not isinstance(threshold, bool) and isinstance(threshold, (int, float))
        if not number or not 0 <= threshold <= 1:
            raise InvalidArgumentError(f"threshold={threshold!r}; pass a number in [0, 1].")
        self.threshold = float(threshold)
        self.negatives = negatives
        # Hard negatives are the facts nearest the true ones by this encoder.
        self._hard_encoder = (topic_encoder or identifier.encoder) if negatives == "hard" else None
        self.impostors = impostors or ImpostorDesign()
        n = len(actions)
        self.claim_observation: ClaimObservation | None = None
        if task == "authentication":
            self.claim_observation = ClaimObservation(actions, identifier.encoder, max_turns)
            self.observation_space = self.claim_observation.space
        else:
            self.observation_space = spaces.Box(
                -1.0, 1.0, shape=(self.dim + 2 * n + 1,), dtype=np.float32
            )
        self.action_space = spaces.Discrete(n)
        # A vector env steps the same episodes until one ends: stack their state once.
        self._totals = LastBatch(self._stack_totals, lambda e: e.totals[None])
        self._masks = LastBatch(
            self._candidate_masks, lambda e: (e.is_true[None], np.ones((1, len(e.is_true)), bool))
        )

    def dialog_slice(self) -> slice:
        """Where the observation holds what the partner said (the part an ablation
        holds constant): the answer embedding, or the claim's support features."""
        if self.claim_observation is not None:
            return self.claim_observation.dialog_slice()
        return slice(0, self.dim)

    def start(
        self,
        rng: np.random.Generator,
        personas: Sequence[Persona],
        pool: CandidatePool,
        options: Mapping | None = None,
    ) -> InterviewEpisode:
        """A new episode: persona and candidates drawn from ``rng`` (or pinned by options).

        ``options`` may hold ``persona`` (a list of facts) or ``persona_index``: the
        partner in identification, the claim in authentication, where ``genuine``
        (True/False) may pin the partner's truth as well.
        """
        options = options or {}
        known = {"persona", "persona_index"} | (
            {"genuine"} if self.task == "authentication" else set()
        )
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
        if self.n_negatives > len(pool) - len(persona):
            raise InvalidArgumentError(
                f"n_negatives={self.n_negatives} is more than the {len(pool)}-fact candidate "
                f"pool leaves beside a {len(persona)}-fact persona; pass a smaller n_negatives "
                "or more personas."
            )
        claim, genuine = persona, None
        if self.task == "authentication":
            topics = self._hard_encoder or self.identifier.encoder
            persona, genuine = self.impostors.draw_partner(
                claim, personas, pool.facts, rng, options,
                nearest=lambda fact: pool.nearest(fact, topics),
            )  # fmt: skip
        candidates, truth, rows = pool.draw(claim, self.n_negatives, rng, self._hard_encoder)
        # The episode's own seeds, drawn now: they do not depend on which batch it runs in.
        seeds = (rng.random((self.max_turns, 2)) * 2**31).astype(np.int64).tolist()
        identification = self.identifier.begin(
            candidates, pool.vectors(rows, self.identifier.encoder)
        )
        totals = np.zeros(self.dim + len(self.actions), np.float32)
        episode = InterviewEpisode(
            persona, candidates, truth, seeds, identification, totals, claim=claim,
            genuine=genuine, dialog_seed=seeds[0][1],
        )  # fmt: skip
        if self.claim_observation is not None:
            episode.claim_features = self.claim_observation.claim_features(claim)
            episode.claim_positions = claim_positions(claim, candidates)
        return episode

    def observation(self, episode: InterviewEpisode) -> np.ndarray:
        """Mean embedding of the partner's answers ⊕ codes used (0/1) ⊕ use fractions ⊕ turn."""
        if episode.turn == 0 and self.claim_observation is None:
            # Nothing said or asked yet: every feature is 0 (resets are hot).
            return np.zeros(self.observation_space.shape, np.float32)
        return self.observations([episode])[0]

    def observations(self, episodes: Sequence[InterviewEpisode]) -> np.ndarray:
        """The observations of N episodes as one ``(N, observation dim)`` array."""
        turns = [e.turn for e in episodes]
        if self.claim_observation is None:
            return self._observe(self._totals(episodes), turns)
        scores = padded_stack([e.identification.scores for e in episodes], np.float32)
        truth, valid = self._masks(episodes)
        return self._observe_claims(episodes, self._totals(episodes), turns, scores, truth, valid)

    def _observe_claims(
        self,
        episodes: Sequence[InterviewEpisode],
        totals: np.ndarray,
        turns: Sequence[int],
        scores: np.ndarray,
        truth: np.ndarray,
        valid: np.ndarray,
    ) -> np.ndarray:
        """The authentication observation (see :class:`ClaimObservation`)."""
        support = fact_support(scores, truth, valid)
        positions = np.stack([e.claim_positions for e in episodes])
        shown = positions >= 0
        safe = np.where(shown, positions, 0)
        slot_support = np.where(shown, np.take_along_axis(support, safe, axis=1), 0.0)
        slot_raw = np.where(shown, np.take_along_axis(scores, safe, axis=1), 0.0)
        overall = np.where(truth, support, 0.0).sum(axis=1) / truth.sum(axis=1)
        return self.claim_observation.observe(
            np.stack([e.claim_features for e in episodes]),
            slot_support,
            slot_raw,
            overall,
            totals[:, self.dim :],
            turns,
        )

    def _observe(self, totals: np.ndarray, turns: Sequence[int]) -> np.ndarray:
        turns = np.asarray(turns, np.float64)
        said = totals[:, : self.dim] / np.maximum(turns, 1)[:, None]
        counts = totals[:, self.dim :]
        # A 0/1 "already asked" flag per code: a count fraction moves by only 1/max_turns
        # per use, too small a signal for a policy network to pick up quickly.
        used = np.minimum(counts, 1)
        obs = np.concatenate(
            [said, used, counts / self.max_turns, (turns / self.max_turns)[:, None]], axis=1
        )
        return np.clip(obs, -1.0, 1.0).astype(np.float32)

    @staticmethod
    def _stack_totals(episodes: Sequence[InterviewEpisode]) -> np.ndarray:
        """The episodes' counters as one array; each episode's ``totals`` becomes a view
        of its row, so adding to the stack adds to every episode."""
        totals = padded_stack([e.totals for e in episodes])
        for i, episode in enumerate(episodes):
            episode.totals = totals[i]
        return totals

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
        questions = self.interviewer.respond(
            [
                DialogContext(h, goal=c.prompt, seed=e.seeds[t][0])
                for e, h, c, t in zip(episodes, histories, codes, turns, strict=True)
            ]
        )
        answers = self.partner.respond(
            [
                DialogContext((*h, q), e.persona, seed=e.seeds[t][1], dialog_seed=e.dialog_seed)
                for e, h, q, t in zip(episodes, histories, questions, turns, strict=True)
            ]
        )
        # The counters gain this turn's answer embedding and one use of its code.
        totals = self._totals(episodes)
        if self.claim_observation is None:
            # Only identification observes the answer embedding; authentication observes
            # the identifier's support of the claim, so it skips this encoder call (a
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
        # Authentication pays support relative to the threshold: the returns sum to
        # sign × (support − threshold), whose expectation differs from sign × support
        # by a constant, but whose spread is far smaller (see ``threshold``).
        start = self.threshold if self.task == "authentication" else 0.0
        previous = np.array(
            [e.metrics[-1][self.reward_metric] if e.metrics else start for e in episodes]
        )
        done = np.array(turns) + 1 >= self.max_turns
        if self.reward_mode == "delta":
            rewards = current - previous
        else:
            rewards = np.where(done, current - start, 0.0)
        if self.task == "authentication":
            rewards = rewards * np.array([e.sign for e in episodes])
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
            }
            if self.task == "identification":
                info["persona"] = e.persona
            elif ended:  # authentication reveals the truth only once the episode is over
                info["genuine"] = e.genuine
                info["persona"] = e.persona
            infos.append(info)
        next_turns = [t + 1 for t in turns]
        if self.claim_observation is None:
            observations = self._observe(totals, next_turns)
        else:
            observations = self._observe_claims(episodes, totals, next_turns, scores, truth, valid)
        return TurnBatch(observations, rewards, done, infos)

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
