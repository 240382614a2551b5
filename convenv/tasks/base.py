"""The Task protocol: what differs between tasks that run on the one interview engine.

The engine (:class:`~convenv.interview.InterviewEngine`) runs every turn the same way:
the interviewer asks for the chosen code, the partner answers, the identifier ranks
the candidate facts of the episode's *claim* (the persona whose facts are scored).
A task supplies the rest: who the partner is at the start of an episode, what the
policy observes (and which slice of that comes from the dialog), how the per-turn
reward is signed and centred, what the infos reveal, how a benchmark scores a set of
episodes, and which baselines it is judged against. The engine, the envs, the
vector envs and every job run any registered task without asking for its name.

A task is a dataclass whose fields are its options (each with ``help`` metadata:
the command line offers them as flags); :meth:`Task.bind` makes the copy an engine
uses, with its observation space built for the engine's codes and encoder.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from gymnasium import spaces

from convenv.actions import ActionSet
from convenv.errors import InvalidArgumentError
from convenv.personachat import Persona

if TYPE_CHECKING:  # only for annotations: the engine imports this module
    from convenv.interview import InterviewEpisode
    from convenv.records import EpisodeRecord

Statistic = Callable[[np.ndarray], float]


@dataclass(frozen=True)
class TaskSetting:
    """What a task is bound to: the engine's codes, encoder, length and reward metric."""

    actions: ActionSet
    encoder: Any  # the identifier's sentence encoder (``encode``, ``dim``)
    max_turns: int
    reward_metric: str

    @property
    def dim(self) -> int:
        return int(self.encoder.dim)


@dataclass(frozen=True)
class EpisodeStart:
    """Who the partner is in a new episode whose claim is given.

    ``genuine``: whether the partner is the claimed persona (None where the task has
    no claim to verify: the claim is the partner's own persona).
    """

    persona: Persona
    genuine: bool | None = None


@dataclass
class ObservationBatch:
    """What a task observes for N episodes (row ``i`` belongs to ``episodes[i]``).

    ``said`` is the sum of the partner's answer embeddings (zeros for a task that does
    not observe answers); ``counts`` how often each code was asked; ``scores``, ``truth``
    and ``valid`` the identifier's scores of the candidates, which candidates are the
    claim's facts and which exist (``(N, most candidates)``, zero-padded).
    """

    episodes: Sequence[InterviewEpisode]
    said: np.ndarray
    counts: np.ndarray
    turns: np.ndarray
    scores: np.ndarray
    truth: np.ndarray
    valid: np.ndarray


@dataclass(frozen=True)
class MainJobPlan:
    """How ``convenv main`` trains and benchmarks a policy for this task.

    Attributes:
        timesteps: PPO's env steps.
        train_options: Task options of the training env (e.g. mixed impostors).
        warm_start: A registered heuristic cloned before PPO, or None.
        extra_policies: Benchmarked beside the task's defaults; ``{model}`` stands for
            the trained model's path.
    """

    timesteps: int = 250_000
    train_options: Mapping[str, Any] = field(default_factory=dict)
    warm_start: str | None = None
    extra_policies: tuple[str, ...] = ()


@dataclass
class Task:
    """Base class of tasks (see the module docstring). Subclasses are dataclasses whose
    fields are the task's options, and set the class attributes below."""

    # The id a task is registered, chosen and written under.
    name: ClassVar[str] = ""
    # One line for help texts.
    summary: ClassVar[str] = ""
    # Whether the claim a policy reads at the start of an episode is public (a claim
    # to verify) or the partner's own persona (a policy that reads it cheats).
    claim_is_public: ClassVar[bool] = False
    # Wrong candidate facts unless the env is told: "random" or "hard".
    default_negatives: ClassVar[str] = "random"
    # Who answers and who ranks unless the env is told (registered names).
    default_partner: ClassVar[str] = "retrieval"
    default_identifier: ClassVar[str] = "zero-shot"
    # What a benchmark plays when no policies are named (registered policy names).
    default_policies: ClassVar[tuple[str, ...]] = ("random", "round-robin", "best-fixed")
    # The best heuristic that does not cheat: benchmarks also report every other
    # policy's paired difference from it (a learned policy must beat it, not only the
    # best fixed sequence). None: the best fixed sequence is the only reference.
    best_heuristic: ClassVar[str | None] = None
    # The report's main metric (per-turn curves, the fixed search's objective).
    headline: ClassVar[str] = "auc"
    # The metrics a benchmark reports, in table order.
    report_metrics: ClassVar[tuple[str, ...]] = ()
    # Report metrics where lower is better.
    lower_is_better: ClassVar[frozenset[str]] = frozenset()
    # Reset options this task reads beside "persona" and "persona_index".
    reset_option_keys: ClassVar[frozenset[str]] = frozenset()
    # Named parts of the observation (see observation_layout), for policies that read
    # parts by name to declare which tasks they play.
    observation_parts: ClassVar[frozenset[str]] = frozenset({"dialog"})
    # Whether the observation holds the answer embedding (then each step embeds the
    # answers; a task that observes only the identifier's scores skips that call).
    observes_answers: ClassVar[bool] = True
    # Options a benchmark runs one report per value of, and the values it runs when
    # not told (e.g. one report per impostor kind).
    bench_sweep: ClassVar[Mapping[str, tuple]] = {}
    # Episodes on validation personas that a benchmark plays per policy to fit the
    # report (e.g. a decision threshold); 0: the report needs none.
    calibration_episodes: ClassVar[int] = 0
    # Task options ``convenv train`` uses where the command line leaves them unset.
    train_defaults: ClassVar[Mapping[str, Any]] = {}
    main_job: ClassVar[MainJobPlan] = MainJobPlan()

    def __post_init__(self) -> None:
        self.setting: TaskSetting | None = None
        self.observation_space: spaces.Box | None = None

    # --- options ------------------------------------------------------------------
    @classmethod
    def option_fields(cls) -> tuple[dataclasses.Field, ...]:
        """The task's options (its dataclass fields)."""
        return dataclasses.fields(cls)

    def options(self) -> dict[str, Any]:
        """The option values, by name."""
        return {f.name: getattr(self, f.name) for f in self.option_fields()}

    def design(self) -> dict[str, Any]:
        """What shapes this task's episodes, for run records and cache keys."""
        return {"task": self.name, **self.options()}

    # --- binding --------------------------------------------------------------------
    def bind(self, setting: TaskSetting) -> Task:
        """A copy of this task bound to an engine's setting (its observation space built)."""
        bound = copy.copy(self)
        bound.setting = setting
        bound.prepare()
        if not isinstance(bound.observation_space, spaces.Box):
            raise InvalidArgumentError(
                f"task {self.name!r}: prepare() must set observation_space to a gymnasium Box."
            )
        return bound

    @property
    def bound(self) -> TaskSetting:
        if self.setting is None:
            raise InvalidArgumentError(
                f"task {self.name!r} is not bound to an engine; call task.bind(setting) first."
            )
        return self.setting

    def prepare(self) -> None:
        """Build what depends on the setting; must set ``self.observation_space``."""
        raise NotImplementedError

    def dialog_slice(self) -> slice:
        """Where the observation holds what the partner said (what an ablation holds
        at its mean to ask whether a policy listens)."""
        raise NotImplementedError

    def observation_layout(self) -> dict[str, slice]:
        """Named parts of the observation that policies may read by name (a heuristic
        that reads the "open_claim" part runs on any task whose layout has one)."""
        return {"dialog": self.dialog_slice()}

    # --- episodes -------------------------------------------------------------------
    def start(
        self,
        claim: Persona,
        personas: Sequence[Persona],
        facts: Sequence[str],
        rng: np.random.Generator,
        options: Mapping,
        nearest: Callable[[str], Sequence[str]],
    ) -> EpisodeStart:
        """Who the partner is, for an episode whose claim is ``claim`` (drawn from
        ``rng`` after the claim, before the candidates). ``nearest(fact)``: the pool's
        facts nearest a fact, paraphrases excluded. Default: the claim itself."""
        return EpisodeStart(claim)

    def prepare_episode(self, episode: InterviewEpisode) -> None:
        """Fill ``episode.task_state`` with what this task keeps per episode."""

    def observe(self, batch: ObservationBatch) -> np.ndarray:
        """``(N, observation dim)`` float32 observations."""
        raise NotImplementedError

    def interviewer_focus(self, episode: InterviewEpisode, code: int) -> str | None:
        """A fact the interviewer's question for ``code`` may check (what the task lets
        the interviewer know; default: nothing)."""
        return None

    def signs(self, episodes: Sequence[InterviewEpisode]) -> np.ndarray:
        """Per episode, the sign the reward metric is paid with (default +1)."""
        return np.ones(len(episodes))

    def reward_origin(self) -> float:
        """The metric value that earns nothing: returns sum to ``sign × (final − this)``."""
        return 0.0

    def value(self, episode: InterviewEpisode) -> float:
        """How well the episode stands after its last turn: its signed reward metric
        (what a lookahead maximises)."""
        sign = float(self.signs([episode])[0])
        return sign * episode.metrics[-1][self.bound.reward_metric]

    def reset_info(self, episode: InterviewEpisode) -> dict[str, Any]:
        """What ``reset`` reveals beside the candidates."""
        return {}

    def step_info(self, episode: InterviewEpisode, ended: bool) -> dict[str, Any]:
        """What ``step`` reveals beside the question, answer, code and metrics."""
        return {}

    # --- reports --------------------------------------------------------------------
    def calibrate(self, records: Sequence[EpisodeRecord]) -> dict[str, float]:
        """Fit what the report needs on validation-persona episodes of one policy."""
        return {}

    def statistics(
        self,
        records: Sequence[EpisodeRecord],
        turn: int,
        calibration: Mapping[str, float] | None = None,
    ) -> dict[str, Statistic]:
        """Per report metric, a function of episode indices (resampled by personas)
        after ``turn`` questions; metrics that need a calibration are left out
        without one."""
        raise NotImplementedError

    def objective(self, records: Sequence[EpisodeRecord], turn: int) -> float:
        """How well episodes did after ``turn`` questions, higher is better (what the
        best fixed sequence is searched for): the headline over all of them."""
        return self.statistics(records, turn)[self.headline](np.arange(len(records)))

    def algorithm_defaults(self, algorithm: str) -> dict[str, Any] | None:
        """Tuned settings of an SB3 algorithm for this task (None: the trainer's own)."""
        return None
