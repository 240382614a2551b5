"""The one table of named policies: what each is, the tasks it plays, whether it cheats.

``convenv bench --policies``, ``selfplay --policy``, warm starts, the main job and the
help texts all read this table; a new baseline is one :func:`register_policy` line.
A policy *cheats* in a task when it reads what the task hides from a fair policy (the
partner's own persona in identification, the episode itself for the lookahead);
every table shows such a policy with "(cheats)" after its name.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from convenv.errors import InvalidArgumentError
from convenv.policies.base import ActionPolicy
from convenv.tasks import TASKS, Task

CHEATS = " (cheats)"


@dataclass(frozen=True)
class PolicyContext:
    """What building a policy may need.

    Attributes:
        env: The env the policy will play (its codes, task and models).
        seed: Seeds a policy's own random draws.
        work_dir: Where a searched baseline is cached (``best_fixed[_tag].json``).
        cache_tag: Tells apart the caches of several benchmarks in one ``work_dir``.
        search_episodes: Train-persona episodes per candidate code of the best-fixed search.
        progress: Show progress bars for searches.
    """

    env: object
    seed: int = 0
    work_dir: Path | None = None
    cache_tag: str = ""
    search_episodes: int = 256
    progress: bool = True


def everywhere(task: type[Task]) -> bool:
    return True


def never(task: type[Task]) -> bool:
    return False


@dataclass(frozen=True)
class PolicyEntry:
    """One named policy (or a family: ``fixed:K``, a model path).

    Attributes:
        name: The spec as typed (``"random"``), or its prefix for a family (``"fixed:"``).
        help: One line for --help and the README.
        build: ``build(argument, context)``: the policy, or a list of policies;
            ``argument`` is what follows the prefix (or the whole spec for a path).
        supports: Whether it plays a task (asked of the task's class).
        cheats: Whether it reads what the task hides (then "(cheats)" in every table).
        usage: How it is written on the command line (default: the name).
        matches: For families: whether a spec belongs to it (default: starts with name).
    """

    name: str
    help: str
    build: Callable[[str, PolicyContext], ActionPolicy | list[ActionPolicy]]
    supports: Callable[[type[Task]], bool] = everywhere
    cheats: Callable[[type[Task]], bool] = never
    usage: str = ""
    matches: Callable[[str], bool] | None = None

    def applies_to(self, spec: str) -> bool:
        if self.matches is not None:
            return self.matches(spec)
        return spec == self.name

    def label(self, base: str, task: type[Task]) -> str:
        """``base`` as tables show it in ``task`` ("(cheats)" where it cheats)."""
        return base + CHEATS if self.cheats(task) and not base.endswith(CHEATS) else base


POLICIES: list[PolicyEntry] = []


def register_policy(entry: PolicyEntry) -> PolicyEntry:
    """Add ``entry`` to the table (a later entry of the same name replaces it)."""
    POLICIES[:] = [e for e in POLICIES if e.name != entry.name]
    POLICIES.append(entry)
    return entry


def find_policy(spec: str) -> PolicyEntry:
    """The entry a spec names (a family entry for ``fixed:3`` or a model path)."""
    for entry in POLICIES:
        if entry.applies_to(spec):
            return entry
    raise InvalidArgumentError(
        f"policy {spec!r} is none of: {policy_usages()}; see convenv bench --help."
    )


def policy_usages() -> str:
    return ", ".join(entry.usage or entry.name for entry in POLICIES)


def policy_lines() -> list[str]:
    """One line per policy: how to write it, what it does, the tasks it plays and
    where it cheats (for --help and the README)."""
    lines = []
    for entry in POLICIES:
        tasks = [cls for cls in TASKS.values() if entry.supports(cls)]
        where = "" if len(tasks) == len(TASKS) else f" [{', '.join(c.name for c in tasks)}]"
        cheats = [c.name for c in tasks if entry.cheats(c)]
        mark = ""
        if cheats:
            mark = CHEATS if len(cheats) == len(tasks) else f" (cheats in {', '.join(cheats)})"
        lines.append(f"{entry.usage or entry.name}: {entry.help}{where}{mark}")
    return lines


def policy_help() -> str:
    return "; ".join(policy_lines())


def check_specs(specs: Sequence[str], task: type[Task] | Task | None = None) -> None:
    """Refuse an unknown name, a missing model path or a policy the task does not take,
    now, before any model loads."""
    if isinstance(task, Task):
        task = type(task)
    for spec in specs:
        entry = find_policy(spec)
        if task is not None and not entry.supports(task):
            raise InvalidArgumentError(
                f"policy {spec!r} does not play task {task.name!r}; drop it or pick another "
                "task (convenv bench --help lists which policy plays which task)."
            )
        check = getattr(entry.build, "check", None)
        if check is not None:
            check(spec[len(entry.name) :] if entry.matches is None else spec)


def make_policies(specs: Sequence[str], context: PolicyContext) -> list[ActionPolicy]:
    """The policies ``specs`` name, for ``context.env``; each is named as tables show it."""
    task = type(context.env.task)
    check_specs(specs, task)
    out: list[ActionPolicy] = []
    for spec in specs:
        entry = find_policy(spec)
        argument = spec[len(entry.name) :] if entry.matches is None else spec
        built = entry.build(argument, context)
        for policy in built if isinstance(built, list) else [built]:
            policy.name = entry.label(policy.name, task)
            out.append(policy)
    return out


def is_cheating(policy: ActionPolicy) -> bool:
    """Whether a built policy was marked as cheating (its name says so)."""
    return policy.name.endswith(CHEATS)


# --- the built-in policies ------------------------------------------------------------


def _n(context: PolicyContext) -> int:
    return len(context.env.actions)


def _random(argument: str, context: PolicyContext):
    from convenv.policies.simple import RandomPolicy

    return RandomPolicy(_n(context), context.seed)


def _round_robin(argument: str, context: PolicyContext):
    from convenv.policies.simple import RoundRobinPolicy

    return RoundRobinPolicy(_n(context))


def _fixed(spec: str, context: PolicyContext):
    from convenv.policies.simple import FixedSequencePolicy

    body = spec[len("fixed:") :]
    n = _n(context)
    if body == "all":
        return [
            FixedSequencePolicy([k], n, name=f"fixed:{a.label}")
            for k, a in enumerate(context.env.actions)
        ]
    return FixedSequencePolicy(_fixed_sequence(spec), n)


def _fixed_sequence(spec: str) -> list[int]:
    body = spec[len("fixed:") :]
    try:
        sequence = [int(k) for k in body.split(",")]
    except ValueError as err:
        raise InvalidArgumentError(
            f"policy {spec!r}; write fixed:K, fixed:K1,K2,... (code indices) or fixed:all."
        ) from err
    if not sequence or min(sequence) < 0:
        raise InvalidArgumentError(f"policy {spec!r}; code indices are 0 or more.")
    return sequence


def _check_fixed(spec: str) -> None:
    if spec != "fixed:all":
        _fixed_sequence(spec)


_fixed.check = _check_fixed  # type: ignore[attr-defined]


def _best_fixed(spec: str, context: PolicyContext):
    from convenv.policies.best_fixed import best_fixed_policy

    path = spec.partition(":")[2] or None
    return best_fixed_policy(
        context.env, path, context.work_dir, context.search_episodes, context.progress,
        context.cache_tag,
    )  # fmt: skip


def _check_best_fixed(spec: str) -> None:
    path = spec.partition(":")[2]
    if path and not Path(path).is_file():
        raise InvalidArgumentError(
            f"policy {spec!r}: {path} does not exist; pass a file a best-fixed search "
            "wrote (best_fixed.json in a bench --out directory)."
        )


_best_fixed.check = _check_best_fixed  # type: ignore[attr-defined]


def _claim(argument: str, context: PolicyContext):
    from convenv.policies.claim import ClaimTopicPolicy

    return ClaimTopicPolicy(context.env.actions, context.env.encoder)


def _oracle(argument: str, context: PolicyContext):
    policy = _claim(argument, context)
    policy.name = "oracle"
    return policy


def _claim_adaptive(argument: str, context: PolicyContext):
    from convenv.policies.claim import AdaptiveClaimPolicy

    return AdaptiveClaimPolicy(_n(context), context.env.max_turns)


def _lookahead(argument: str, context: PolicyContext):
    from convenv.policies.lookahead import LookaheadPolicy

    return LookaheadPolicy(_n(context))


def _learned(spec: str, context: PolicyContext):
    from convenv.policies.learned import learned_policy

    return learned_policy(spec, context.env)


def _check_learned(spec: str) -> None:
    from convenv.policies.learned import check_learned

    check_learned(spec)


_learned.check = _check_learned  # type: ignore[attr-defined]


def _ablate(spec: str, context: PolicyContext):
    from convenv.policies.ablation import held_at_mean
    from convenv.policies.learned import learned_policy

    return held_at_mean(learned_policy(spec[len("ablate:") :], context.env), context.env)


def _check_ablate(spec: str) -> None:
    _check_learned(spec[len("ablate:") :])


_ablate.check = _check_ablate  # type: ignore[attr-defined]


def _claim_is_public(task: type[Task]) -> bool:
    return task.claim_is_public


def _claim_is_hidden(task: type[Task]) -> bool:
    return not task.claim_is_public


def _reads_open_claim(task: type[Task]) -> bool:
    return {"open_claim", "use"} <= task.observation_parts


def _is_model(spec: str) -> bool:
    return not spec.startswith(("fixed:", "best-fixed", "ablate:")) and (
        ":" in spec or "/" in spec or spec.endswith(".zip") or Path(spec).exists()
    )


register_policy(PolicyEntry("random", "uniformly random codes, seeded per episode", _random))
register_policy(PolicyEntry("round-robin", "every code once, in order, then again", _round_robin))
register_policy(
    PolicyEntry(
        "fixed:",
        "a fixed sequence of code indices (fixed:3, fixed:0,4,6), or each code alone (fixed:all)",
        _fixed,
        usage="fixed:K[,K...]|fixed:all",
        matches=lambda spec: spec.startswith("fixed:"),
    )
)
register_policy(
    PolicyEntry(
        "best-fixed",
        "the best fixed sequence, searched on train personas (best-fixed:PATH reloads one)",
        _best_fixed,
        usage="best-fixed[:PATH]",
        matches=lambda spec: spec == "best-fixed" or spec.startswith("best-fixed:"),
    )
)
register_policy(
    PolicyEntry(
        "oracle",
        "asks about the topics of the partner's own facts (the topic oracle)",
        _oracle,
        supports=_claim_is_hidden,
        cheats=_claim_is_hidden,
    )
)
register_policy(
    PolicyEntry(
        "claim",
        "asks about the topics of the claimed facts, most typical first",
        _claim,
        supports=_claim_is_public,
        cheats=_claim_is_hidden,
    )
)
register_policy(
    PolicyEntry(
        "claim-adaptive",
        "asks about the claimed facts the answers so far support least",
        _claim_adaptive,
        supports=_reads_open_claim,
    )
)
register_policy(
    PolicyEntry(
        "lookahead",
        "tries every code on a copy of the episode and plays the best (knows the truth: "
        "an upper reference)",
        _lookahead,
        cheats=everywhere,
    )
)
register_policy(
    PolicyEntry(
        "ablate:",
        "MODEL with the dialog part of its observation held at its per-turn mean (does it listen?)",
        _ablate,
        usage="ablate:MODEL",
        matches=lambda spec: spec.startswith("ablate:"),
    )
)
register_policy(
    PolicyEntry(
        "MODEL",
        "a model saved by convenv train or SB3's model.save() (.zip; ppo:, dqn:, a2c: in "
        "front optional), or an RLlib run directory (rllib: in front optional)",
        _learned,
        usage="MODEL",
        matches=_is_model,
    )
)


def policy_markdown() -> str:
    """The policy list as the README shows it (a test keeps the two the same)."""
    rows = []
    for line in policy_lines():
        usage, _, rest = line.partition(": ")
        rows.append(f"- `{usage}`: {rest}")
    return "\n".join(rows)
