"""EnvConfig: the one place the env's options are declared, with help and validation.

:class:`~convenv.env.PersonaInterviewEnv` takes an ``EnvConfig`` (or the same options
as keyword arguments); the jobs' settings (``TrainConfig``, rollouts, chat, fidelity)
hold one, and their command lines are generated from its fields (see
:mod:`convenv.arguments`). Options of the task (``impostor=``, ``threshold=`` ...)
are the task's own fields; given as keyword arguments here they land in
``task_options``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from convenv.errors import InvalidArgumentError, positive_int
from convenv.metrics import METRIC_NAMES, check_metric_name
from convenv.model_source import PRECISIONS, check_precision
from convenv.personachat import SPLITS

REWARD_MODES = ("delta", "terminal")
NEGATIVE_KINDS = ("random", "hard")
CANDIDATE_POOLS = ("train", "split")


def _partners() -> tuple[str, ...]:
    from convenv.speakers import PARTNER, speaker_names

    return speaker_names(PARTNER)


def _interviewers() -> tuple[str, ...]:
    from convenv.speakers import INTERVIEWER, speaker_names

    return speaker_names(INTERVIEWER)


def _tasks() -> tuple[str, ...]:
    from convenv.tasks import task_names

    return task_names()


def _help_partner() -> str:
    from convenv.speakers import PARTNER, speaker_help

    return "who answers in character (unset: the task's): " + speaker_help(PARTNER)


def _help_interviewer() -> str:
    from convenv.speakers import INTERVIEWER, speaker_help

    return "who asks the question for each code: " + speaker_help(INTERVIEWER)


def _help_identifier() -> str:
    from convenv.speakers import identifier_help

    return "who ranks the candidate facts (unset: the task's): " + identifier_help()


def _help_task() -> str:
    from convenv.tasks import TASKS

    return "; ".join(f"{name}: {cls.summary}" for name, cls in TASKS.items())


def option(default: Any, help: str | Any, cli: bool = True, **metadata: Any) -> Any:
    """A config field: its default, its --help line (a string or a function that makes
    one, for tables filled at import time), whether the command line offers it, and
    ``choices`` (a tuple or a function returning one)."""
    metadata = {"help": help, "cli": cli, **metadata}
    if isinstance(default, (list, dict, set)):
        return field(default_factory=lambda: type(default)(default), metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass
class EnvConfig:
    """Every option of :class:`~convenv.env.PersonaInterviewEnv`."""

    task: Any = option("identification", _help_task, choices=_tasks)
    split: str = option(
        "train", "personas: train (what policies learn on) or test (held out)", choices=SPLITS
    )
    max_turns: int = option(8, "questions per episode")
    n_negatives: int = option(20, "wrong candidate facts per episode")
    negatives: str | None = option(
        None,
        "wrong candidate facts: random (convogym's) or hard (same topic as the true "
        "ones); unset: the task's choice",
        choices=NEGATIVE_KINDS,
    )
    candidate_pool: str = option(
        "train",
        "where wrong candidates and impostors' facts come from: train (the train personas' "
        "facts, for every split: a test episode is as hard as a train one) or split (the "
        "split's own facts, convogym's protocol)",
        choices=CANDIDATE_POOLS,
    )
    reward_mode: str = option(
        "delta", "delta: the metric's change each turn; terminal: its final value once",
        choices=REWARD_MODES,
    )  # fmt: skip
    reward_metric: str = option("auc", "the metric the reward pays", choices=METRIC_NAMES)
    partner: Any = option(None, _help_partner, choices=_partners)
    interviewer: Any = option("retrieval", _help_interviewer, choices=_interviewers)
    identifier: Any = option(None, _help_identifier)
    model: str | None = option(
        None, "the model of a model-backed speaker: hub name, directory, GGUF file or smollm2"
    )
    base_url: str | None = option(
        None, "a served partner's OpenAI-compatible API root, e.g. http://127.0.0.1:8000/v1"
    )
    api_key_env: str = option(
        "OPENAI_API_KEY", "the environment variable holding a served partner's API key"
    )
    device: str = option("auto", "device of the models: auto (CUDA if present), cpu, cuda:N")
    precision: str = option(
        "auto",
        "weights of a model-backed speaker: auto (bf16 on CUDA, float32 elsewhere), float32, "
        "or bfloat16 (on CPUs with bf16 instructions about 2x faster; answers differ slightly)",
        choices=PRECISIONS,
    )
    pool_dialogs: int | None = option(
        None, "Persona-Chat train dialogs in the retrieval pool (unset: 2,000)"
    )
    task_options: dict = option({}, "the task's own options", cli=False)
    personas: Sequence[Sequence[str]] | None = option(
        None, "your own personas instead of the split's", cli=False
    )
    actions: Any = option(None, "action codes (an ActionSet or a list of codes)", cli=False)
    render_mode: str | None = option(None, "'ansi' for the transcript", cli=False)

    def __post_init__(self) -> None:
        if self.split not in SPLITS:
            raise InvalidArgumentError(f"split={self.split!r}; pass one of {SPLITS}.")
        self.max_turns = positive_int(self.max_turns, "max_turns")
        self.n_negatives = positive_int(self.n_negatives, "n_negatives")
        if self.negatives is not None and self.negatives not in NEGATIVE_KINDS:
            raise InvalidArgumentError(
                f"negatives={self.negatives!r}; pass one of {NEGATIVE_KINDS} (or None: the "
                "task's default)."
            )
        if self.candidate_pool not in CANDIDATE_POOLS:
            raise InvalidArgumentError(
                f"candidate_pool={self.candidate_pool!r}; pass one of {CANDIDATE_POOLS}."
            )
        if self.reward_mode not in REWARD_MODES:
            raise InvalidArgumentError(
                f"reward_mode={self.reward_mode!r}; pass one of {REWARD_MODES}."
            )
        check_metric_name(self.reward_metric, "reward_metric")
        check_precision(self.precision)
        if self.pool_dialogs is not None:
            self.pool_dialogs = positive_int(self.pool_dialogs, "pool_dialogs")
        if not isinstance(self.task_options, Mapping):
            raise InvalidArgumentError(
                f"task_options={self.task_options!r}; pass a dict of the task's options."
            )
        self.task_options = dict(self.task_options)
        from convenv.model_source import check_model_name
        from convenv.speakers import INTERVIEWER, PARTNER, check_identifier, check_speaker

        check_speaker(self.partner, PARTNER)
        check_speaker(self.interviewer, INTERVIEWER)
        check_identifier(self.identifier)
        if self.model is not None:
            check_model_name(self.model)
        self.make_task()  # validates the task and its options now, before any model loads

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls))

    @classmethod
    def of(cls, config: EnvConfig | None = None, **options: Any) -> EnvConfig:
        """``config`` with ``options`` replacing its fields; keyword arguments that are
        no field of the config are options of the task (``impostor="swap"``)."""
        if config is not None and not isinstance(config, EnvConfig):
            raise InvalidArgumentError(
                f"config={config!r}; pass a convenv.config.EnvConfig (or keyword arguments)."
            )
        names = set(cls.field_names())
        own = {k: v for k, v in options.items() if k in names}
        task_options = {k: v for k, v in options.items() if k not in names}
        if config is None:
            merged = {f.name: _default(f) for f in dataclasses.fields(cls)}
        else:
            merged = {f.name: getattr(config, f.name) for f in dataclasses.fields(cls)}
        if "task" in own and "task_options" not in own and own["task"] != merged["task"]:
            merged["task_options"] = {}  # another task: the old one's options do not apply
        merged.update(own)
        merged["task_options"] = {**merged["task_options"], **task_options}
        return cls(**merged)

    def speakers(self) -> tuple[Any, Any, Any]:
        """``(partner, interviewer, identifier)`` as named or given, the task's own
        defaults where unset (authentication: the consistent partner and the filtered
        identifier; identification: the retrieval partner and the zero-shot one)."""
        task = type(self.make_task())
        return (
            self.partner if self.partner is not None else task.default_partner,
            self.interviewer,
            self.identifier if self.identifier is not None else task.default_identifier,
        )

    def make_task(self):
        """The configured :class:`~convenv.tasks.Task` (a new object each call)."""
        from convenv.tasks import Task, make_task

        if isinstance(self.task, Task):
            return make_task(self.task, self.task_options)
        if not isinstance(self.task, str):
            raise InvalidArgumentError(
                f"task={self.task!r}; pass a registered task name or a convenv.tasks.Task."
            )
        return make_task(self.task, self.task_options)

    @property
    def task_name(self) -> str:
        from convenv.tasks import Task

        return self.task.name if isinstance(self.task, Task) else str(self.task)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for a run record: objects (agents, personas) by what they are."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "personas" and value is not None:
                value = f"{len(value)} personas"
            elif f.name == "task" and not isinstance(value, str):
                value = value.name
            elif not isinstance(value, (str, int, float, bool, type(None), dict, list, tuple)):
                value = type(value).__name__
            out[f.name] = value
        return out


def _default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    return f.default_factory()  # type: ignore[misc]
