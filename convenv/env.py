"""PersonaInterviewEnv: learn which questions reveal who the partner is."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np

from convenv.actions import ActionCode, ActionSet, as_action_set
from convenv.agent_choice import resolve_agents
from convenv.authentication import ImpostorDesign
from convenv.errors import InvalidArgumentError
from convenv.interview import InterviewEngine, InterviewEpisode
from convenv.personachat import SPLITS, Persona, as_persona, fact_pool, load_personas
from convenv.reference import CandidatePool


def persona_pool(
    split: str, personas: Sequence[Sequence[str]] | None
) -> tuple[tuple[Persona, ...], tuple[str, ...]]:
    """The personas an env samples from and the facts its negatives come from."""
    if split not in SPLITS:
        raise InvalidArgumentError(f"split={split!r}; pass one of {SPLITS}.")
    split_personas = load_personas(split)
    if personas is None:
        chosen = split_personas
    else:
        if isinstance(personas, str) or len(personas) == 0:
            raise InvalidArgumentError(
                "personas must be a non-empty list of personas (each a list of facts)."
            )
        chosen = tuple(as_persona(p, f"personas[{i}]") for i, p in enumerate(personas))
    return chosen, fact_pool([*split_personas, *chosen])


class PersonaInterviewEnv(gym.Env):
    """An interviewer policy chooses what to ask; it is rewarded for identifying the partner
    (``task="identification"``) or for verifying who it claims to be (``"authentication"``).

    ## Description
    Each episode a partner persona (3–5 Persona-Chat facts) is drawn. Each turn the
    policy picks an action code; the interviewer asks a question for it; the partner
    answers in character; an identifier ranks candidate facts (the partner's facts
    plus ``n_negatives`` wrong ones) by similarity to everything the partner said.

    In authentication the episode draws a *claimed* persona; the partner is that
    persona with probability ``genuine_rate`` and an impostor otherwise
    (``impostor="random"``: another persona; ``"overlap"``: the claim with ``differ``
    facts replaced; ``"swap"``: replaced by same-topic facts). The candidates are the
    claimed facts plus negatives, and the claim's *support* is their AUC among the
    candidates. The final info says whether the partner was genuine
    (``info["genuine"]``); earlier infos do not.

    ## Action Space
    ``Discrete(len(actions))``: index into the action codes (11 by default: family,
    pets, work, marital status, travel, age and gender, hobbies, food, movies, music,
    politics).

    ## Observation Space
    Identification: ``Box(-1, 1, (dim + 2 * n_actions + 1,), float32)``: the mean
    sentence embedding of the partner's answers (``dim`` = 384 for MiniLM), whether
    each code was asked (0/1), the fraction of turns each code was used, and the
    fraction of the episode elapsed.
    Authentication: ``Box(-1, 1, (5 * n_actions + 5 + 11 + 2 * n_actions + 1,))``: for
    each of 5 claimed-fact slots its topic over the codes (softmax of cosines to the
    code descriptions) and a slot mask; then per slot the fact's support (share of
    wrong candidates it outscores, 0.5 before anything is said) and raw score, the
    overall support, codes asked, use fractions and the turn fraction (see
    :class:`convenv.authentication.ClaimObservation`).

    ## Rewards
    ``reward_mode="delta"`` (default): the change of ``reward_metric`` (default AUC,
    the fraction of true/wrong fact pairs ranked right: smooth, so PPO learns from it
    where the 0.2-sized jumps of recall@5 drown the signal) this turn, so an episode's
    return is its final metric.
    ``"terminal"``: the final metric at the last turn, 0 before.
    In authentication the metric scores the claimed facts and the reward is signed:
    + for a genuine partner, − for an impostor, relative to ``threshold``, so the
    return is ``sign × (final support − threshold)`` and a policy earns by separating
    the two.

    ## Starting State
    A persona drawn from the ``split`` pool with ``self.np_random`` (or pinned by
    ``options={"persona": [...]}`` / ``{"persona_index": i}``), and candidates drawn
    once for the episode. Nothing has been said.

    ## Episode End
    Terminated after ``max_turns`` questions (default 8); never truncated.

    ## Arguments
    partner, interviewer: a DialogAgent, ``"retrieval"`` (offline default) or
    ``"personagpt"``. identifier: a PersonaIdentifier (default: MiniLM, max over
    sentences). actions: an ActionSet or list of codes. split: ``"train"`` or
    ``"test"`` personas. personas: your own persona list instead. model: PersonaGPT
    hub name or directory. render_mode: ``"ansi"`` for the transcript.
    task: ``"identification"`` or ``"authentication"``. genuine_rate, impostor,
    differ: the authentication partner (see
    :class:`convenv.authentication.ImpostorDesign`). threshold: the support that
    earns nothing in authentication (returns sum to sign × (support − threshold)).
    negatives: ``"random"`` wrong facts or ``"hard"`` same-topic ones (default: random
    for identification, hard for authentication). identifier: a
    PersonaIdentifier, or the directory of a fine-tuned encoder
    (``convenv train-identifier``).
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["ansi"], "render_fps": 1}

    def __init__(
        self,
        partner: Any = None,
        interviewer: Any = None,
        identifier: Any = None,
        actions: ActionSet | Sequence[ActionCode | str] | None = None,
        split: str = "train",
        personas: Sequence[Sequence[str]] | None = None,
        max_turns: int = 8,
        n_negatives: int = 20,
        reward_mode: str = "delta",
        reward_metric: str = "auc",
        render_mode: str | None = None,
        model: str | None = None,
        device: str = "auto",
        pool_dialogs: int | None = None,
        task: str = "identification",
        genuine_rate: float = 0.5,
        impostor: str = "random",
        differ: int = 2,
        threshold: float = 0.5,
        negatives: str | None = None,
    ) -> None:
        if negatives is None:
            # Authentication scores identity, not topic: same-topic wrong facts make
            # "i have a cat" stop supporting a claimed "i have a dog". Identification
            # keeps convogym's random negatives.
            negatives = "hard" if task == "authentication" else "random"
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise InvalidArgumentError(
                f"render_mode={render_mode!r}; pass None or one of {self.metadata['render_modes']}."
            )
        self.render_mode = render_mode
        self.split = split
        self.personas, facts = persona_pool(split, personas)
        self.candidate_pool = CandidatePool(facts)
        action_set = as_action_set(actions)
        trained = isinstance(identifier, (str, os.PathLike))
        partner, interviewer, identifier = resolve_agents(
            partner, interviewer, identifier, action_set, model, device, pool_dialogs
        )
        topic_encoder = None
        if trained and negatives == "hard":
            # Hard negatives by the zero-shot encoder, so that a trained identifier
            # faces the same negatives as the zero-shot one it is compared with.
            from convenv.defaults import DEFAULT_POOL_DIALOGS, default_components

            topic_encoder = default_components(
                pool_dialogs or DEFAULT_POOL_DIALOGS, device, tuple(action_set)
            ).encoder
        self.engine = InterviewEngine(
            action_set, partner, interviewer, identifier,
            max_turns=max_turns, n_negatives=n_negatives,
            reward_mode=reward_mode, reward_metric=reward_metric, task=task,
            impostors=ImpostorDesign(genuine_rate, impostor, differ), threshold=threshold,
            negatives=negatives, topic_encoder=topic_encoder,
        )  # fmt: skip
        self.action_space = self.engine.action_space
        self.observation_space = self.engine.observation_space
        self.episode: InterviewEpisode | None = None

    @classmethod
    def sharing(cls, other: PersonaInterviewEnv) -> PersonaInterviewEnv:
        """A new env that shares ``other``'s engine (and so its models) and persona pool."""
        env = cls.__new__(cls)
        env.render_mode = other.render_mode
        env.split = other.split
        env.personas, env.candidate_pool = other.personas, other.candidate_pool
        env.engine = other.engine
        env.action_space = other.action_space
        env.observation_space = other.observation_space
        env.episode = None
        return env

    def with_personas(
        self, split: str, personas: Sequence[Sequence[str]] | None = None
    ) -> PersonaInterviewEnv:
        """A new env on the same engine (same models, task and settings) that draws
        from another persona pool: e.g. train personas to search a baseline on."""
        env = self.sharing(self)
        env.split = split
        env.personas, facts = persona_pool(split, personas)
        env.candidate_pool = CandidatePool(facts)
        return env

    @property
    def actions(self) -> ActionSet:
        return self.engine.actions

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        self.episode = self.engine.start(
            self.np_random, self.personas, self.candidate_pool, options
        )
        info = {"candidates": self.episode.candidates}
        if self.engine.task == "authentication":
            info["claim"] = self.episode.claim  # the partner's truth stays hidden
        else:
            info["persona"] = self.episode.persona
        return self.engine.observation(self.episode), info

    def step(self, action) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        if self.episode is None:
            raise InvalidArgumentError("step() called before reset(); call env.reset() first.")
        batch = self.engine.step([self.episode], [action])
        reward, terminated = float(batch.rewards[0]), bool(batch.terminated[0])
        return batch.observations[0], reward, terminated, False, batch.infos[0]

    def render(self) -> str | None:
        if self.render_mode != "ansi":
            return None
        if self.episode is None:
            return "(no episode yet: call reset())\n"
        return self.engine.transcript(self.episode)
