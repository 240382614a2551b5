"""PersonaInterviewEnv: learn which questions reveal who the partner is."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium.utils import seeding

from convenv.actions import ActionSet, as_action_set
from convenv.candidates import CandidatePool
from convenv.config import EnvConfig
from convenv.errors import InvalidArgumentError
from convenv.interview import InterviewEngine, InterviewEpisode, TurnBatch
from convenv.personachat import Persona, as_persona, fact_pool, load_personas
from convenv.records import EpisodeRecord
from convenv.speakers import IDENTIFIERS, resolve_speakers
from convenv.tasks import Task


def persona_pool(
    split: str, personas: Sequence[Sequence[str]] | None, candidates: str = "train"
) -> tuple[tuple[Persona, ...], tuple[str, ...]]:
    """The personas an env samples from and the facts its negatives come from: the
    train personas' (``candidates="train"``) or the split's, with the chosen personas'.

    One pool for every split keeps a test episode as hard as a train one: drawn from
    their own split, test episodes took their hard negatives from a tenth as many facts,
    less near the true ones, and a partner's claims found about 0.05 more support on
    test personas than on train personas (genuine and impostor alike)."""
    split_personas = load_personas(split)
    if personas is None:
        chosen = split_personas
    else:
        if isinstance(personas, str) or len(personas) == 0:
            raise InvalidArgumentError(
                "personas must be a non-empty list of personas (each a list of facts)."
            )
        chosen = tuple(as_persona(p, f"personas[{i}]") for i, p in enumerate(personas))
    base = load_personas("train") if candidates == "train" else split_personas
    return chosen, fact_pool([*base, *chosen])


class PersonaInterviewEnv(gym.Env):
    """An interviewer policy chooses what to ask; the task decides what it is paid for:
    identifying the partner (``task="identification"``) or verifying who it claims to
    be (``"authentication"``), or any task registered with
    :func:`convenv.tasks.register_task`.

    ## Description
    Each episode draws a persona (3–5 Persona-Chat facts), the episode's *claim*. Each
    turn the policy picks an action code; the interviewer asks a question for it; the
    partner answers in character; an identifier ranks candidate facts (the claim's
    facts plus ``n_negatives`` wrong ones) by similarity to everything the partner said.
    In identification the partner is the claim. In authentication the partner is the
    claimed persona with probability ``genuine_rate`` and an impostor otherwise
    (``impostor="random"``: another persona; ``"overlap"``: the claim with ``differ``
    facts replaced; ``"swap"``: replaced by same-topic facts); the claim's *support*
    is the AUC of its facts among the candidates, and the final info says whether the
    partner was genuine (``info["genuine"]``).

    ## Action Space
    ``Discrete(len(actions))``: index into the action codes (11 by default: family,
    pets, work, marital status, travel, age and gender, hobbies, food, movies, music,
    politics).

    ## Observation Space
    The task's (``env.observation_space``). Identification:
    ``Box(-1, 1, (dim + 2 · n_codes + 1,))``, 407 for MiniLM and the 11 codes: the mean
    sentence embedding of the partner's answers, whether each code was asked (0/1), the
    share of turns each code was used and the share of the episode gone. Authentication:
    ``Box(-1, 1, (8 · n_codes + 17,))``, 105: per claimed fact its topic over the codes,
    a slot mask, its support and raw score; the overall support, per code the open
    claim, codes asked, use shares, turn share (see
    :class:`convenv.tasks.authentication.ClaimObservation`).

    ## Rewards
    ``reward_mode="delta"`` (default): the change of ``reward_metric`` (default AUC,
    the fraction of true/wrong fact pairs ranked right: smooth, where the 0.2-sized
    jumps of recall@5 drown the signal) this turn, so an episode's return is its final
    metric. ``"terminal"``: the final metric at the last turn, 0 before. The task signs
    and centres it: in authentication + for a genuine partner, − for an impostor,
    relative to ``threshold``, so the return is ``sign × (final support − threshold)``.

    ## Starting State
    A persona drawn from the ``split`` pool with ``self.np_random`` (or pinned by
    ``options={"persona": [...]}`` / ``{"persona_index": i}``; authentication also
    takes ``{"genuine": True/False}``), and candidates drawn once for the episode.
    Nothing has been said.

    ## Episode End
    Terminated after ``max_turns`` questions (default 8); never truncated.

    ## Arguments
    ``config``: an :class:`~convenv.config.EnvConfig`, or its fields as keyword
    arguments (they replace the config's): ``task`` (a name or a Task), ``split``,
    ``max_turns``, ``n_negatives``, ``negatives`` (``"random"`` or ``"hard"``; default:
    the task's), ``reward_mode``, ``reward_metric``, ``partner`` and ``interviewer``
    (a name such as ``"retrieval"`` or ``"consistent"``, or a DialogAgent),
    ``identifier`` (``None``, ``"filtered"``, a fine-tuned encoder directory or an
    object), ``model``, ``device``, ``pool_dialogs``, ``personas``, ``actions``,
    ``render_mode`` (``"ansi"`` or ``"rgb_array"``). Other keyword arguments are
    options of the task (``impostor=``, ``genuine_rate=``, ``differ=``, ``threshold=``).
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["ansi", "rgb_array"], "render_fps": 1}

    def __init__(self, config: EnvConfig | None = None, **options: Any) -> None:
        config = EnvConfig.of(config, **options)
        render_mode = config.render_mode
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise InvalidArgumentError(
                f"render_mode={render_mode!r}; pass None or one of {self.metadata['render_modes']}."
            )
        self.config = config
        self.render_mode = render_mode
        self.split = config.split
        self.personas, facts = persona_pool(config.split, config.personas, config.candidate_pool)
        self.candidate_pool = CandidatePool(facts)
        task = config.make_task()
        negatives = config.negatives or task.default_negatives
        action_set = as_action_set(config.actions)
        partner, interviewer, identifier = config.speakers()
        trained = isinstance(identifier, (str, os.PathLike)) and str(identifier) not in IDENTIFIERS
        partner, interviewer, identifier = resolve_speakers(
            partner, interviewer, identifier, action_set, config.model, config.device,
            config.pool_dialogs, config.base_url, config.api_key_env, config.precision,
        )  # fmt: skip
        topic_encoder = None
        if trained and negatives == "hard":
            # Hard negatives by the zero-shot encoder, so that a trained identifier
            # faces the same negatives as the zero-shot one it is compared with.
            from convenv.defaults import DEFAULT_POOL_DIALOGS, default_components

            topic_encoder = default_components(
                config.pool_dialogs or DEFAULT_POOL_DIALOGS, config.device, tuple(action_set)
            ).encoder
        self.engine = InterviewEngine(
            action_set, partner, interviewer, identifier, task,
            max_turns=config.max_turns, n_negatives=config.n_negatives,
            reward_mode=config.reward_mode, reward_metric=config.reward_metric,
            negatives=negatives, topic_encoder=topic_encoder,
        )  # fmt: skip
        self.action_space = self.engine.action_space
        self.observation_space = self.engine.observation_space
        self.episode: InterviewEpisode | None = None

    @classmethod
    def sharing(cls, other: PersonaInterviewEnv) -> PersonaInterviewEnv:
        """A new env that shares ``other``'s engine (and so its models) and persona pool."""
        env = cls.__new__(cls)
        env.config = other.config
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
        env.config = EnvConfig.of(self.config, split=split, personas=personas)
        env.split = split
        env.personas, facts = persona_pool(split, personas, self.config.candidate_pool)
        env.candidate_pool = CandidatePool(facts)
        return env

    # --- what the env is ------------------------------------------------------------
    @property
    def actions(self) -> ActionSet:
        return self.engine.actions

    @property
    def task(self) -> Task:
        """The task this env runs (bound to its codes and encoder)."""
        return self.engine.task

    @property
    def max_turns(self) -> int:
        return self.engine.max_turns

    @property
    def encoder(self):
        """The identifier's sentence encoder."""
        return self.engine.identifier.encoder

    def dialog_slice(self) -> slice:
        """Where the observation holds what the partner said."""
        return self.engine.dialog_slice()

    def design(self) -> dict[str, Any]:
        """Everything that shapes this env's episodes (not which personas it draws)."""
        return self.engine.design()

    # --- Gymnasium ------------------------------------------------------------------
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        info = self.begin_episode(seed=seed, options=options)
        return self.engine.observation(self.episode), info

    def begin_episode(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """``reset`` without the observation: starts this env's next episode and returns
        its info (a vector env observes all the episodes it restarts in one call)."""
        super().reset(seed=seed)
        self.episode = self.engine.start(
            self.np_random, self.personas, self.candidate_pool, options
        )
        return {"candidates": self.episode.candidates, **self.task.reset_info(self.episode)}

    def step(self, action) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        if self.episode is None:
            raise InvalidArgumentError("step() called before reset(); call env.reset() first.")
        batch = self.engine.step([self.episode], [action])
        reward, terminated = float(batch.rewards[0]), bool(batch.terminated[0])
        return batch.observations[0], reward, terminated, False, batch.infos[0]

    def render(self) -> str | np.ndarray | None:
        if self.render_mode is None:
            return None
        text = (
            "(no episode yet: call reset())\n"
            if self.episode is None
            else self.engine.transcript(self.episode)
        )
        if self.render_mode == "ansi":
            return text
        from convenv.rendering import text_image

        return text_image(text)

    # --- many episodes at once, without touching this env's own episode -------------
    def start_episode(self, seed: int, options: Mapping | None = None) -> InterviewEpisode:
        """The episode ``reset(seed=seed, options=options)`` starts, as an object of its
        own (many can be played side by side; this env's state is untouched)."""
        rng, _ = seeding.np_random(int(seed))
        return self.engine.start(rng, self.personas, self.candidate_pool, options)

    def observe(self, episodes: Sequence[InterviewEpisode]) -> np.ndarray:
        """The observations of N episodes, ``(N, observation dim)``."""
        return self.engine.observations(episodes)

    def step_episodes(self, episodes: Sequence[InterviewEpisode], actions: Sequence) -> TurnBatch:
        """One turn of N episodes: one interviewer, partner and identifier call."""
        return self.engine.step(episodes, actions)

    def fork(self, episode: InterviewEpisode) -> InterviewEpisode:
        """An independent copy of an episode (to try a turn in)."""
        return self.engine.fork(episode)

    def record(
        self, episode: InterviewEpisode, seed: int, policy: str, rewards: Sequence[float]
    ) -> EpisodeRecord:
        """The record of a finished episode."""
        return self.engine.record(episode, seed, policy, rewards)
