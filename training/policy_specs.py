"""Policies named on the command line.

``random``, ``round-robin``, ``oracle`` (identification: reads the partner's persona,
cheating on purpose), ``claim`` (asks about the codes nearest the *claimed* facts:
fair in authentication, where the claim is public), ``claim-adaptive`` (authentication:
asks about the claimed facts the answers so far support least), ``fixed:3`` (one code),
``fixed:all`` (each code alone), ``fixed:0,4,6`` (a sequence), ``best-fixed`` (the
best fixed sequence searched on train personas; ``best-fixed:PATH`` reloads a saved
one), ``lookahead`` (the one-step lookahead bound, cheating on purpose: it peeks at every
code's answer), ``lookahead-expected`` (the same knowing the partner's truth but not
its dice: each code averaged over redrawn seeds), ``lookahead-per-claim`` (that, with
one code per turn for all episodes of a claim, genuine or not), ``per-claim-heldout``
(each claim's codes from that bound fitted on other episodes of the claim), a saved SB3
model (``runs/train/model.zip``, optionally ``ppo:``/``dqn:``/``a2c:`` in front), the
run directory of ``convenv train --backend rllib`` (optionally ``rllib:`` in front) and
``ablate:MODEL`` (that model with the dialog part of its observation held at its
per-turn mean).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from convenv.env import PersonaInterviewEnv
from convenv.errors import InvalidArgumentError
from convenv.policies import (
    ActionPolicy,
    FixedSequencePolicy,
    RandomPolicy,
    RoundRobinPolicy,
    SB3Policy,
    TopicOraclePolicy,
)
from convenv.policies.claim import AdaptiveClaimPolicy
from convenv.policies.rllib import RLlibPolicy, is_rllib_run
from convenv.policies.sb3 import ALGORITHMS, training_settings
from convenv.training.lookahead import (
    EXPECTED_DRAWS,
    EXPECTED_NAME,
    HELDOUT_NAME,
    PER_CLAIM_NAME,
)
from convenv.training.lookahead import NAME as LOOKAHEAD_NAME


@dataclass(frozen=True)
class LookaheadBound:
    """Stands for a lookahead bound in a policy list (it plays by forking episodes;
    ``draws`` 0: it peeks at the real answers, else it averages over redrawn dice)."""

    name: str = LOOKAHEAD_NAME
    draws: int = 0
    per_claim: bool = False
    heldout: bool = False

    @property
    def pools_claims(self) -> bool:
        """Whether an episode's codes depend on the other episodes of its claim (then
        the episodes must be played together, not sharded)."""
        return self.per_claim or self.heldout


def learned_policy(spec: str, env: PersonaInterviewEnv) -> ActionPolicy:
    """An SB3 model file, or an RLlib run directory (``rllib:`` in front optional)."""
    path = spec.partition(":")[2] if spec.startswith("rllib:") else spec
    if spec.startswith("rllib:") or is_rllib_run(path):
        return RLlibPolicy.load(path, observation_size=env.observation_space.shape[0])
    return sb3_policy(spec, env)


def sb3_policy(spec: str, env: PersonaInterviewEnv) -> SB3Policy:
    """A model saved by ``convenv train``, read without unpickling; its algorithm comes
    from ``ALGO:`` in front, else from the ``settings.json`` written beside it."""
    algorithm, _, path = spec.partition(":") if spec.split(":")[0] in ALGORITHMS else ("", "", spec)
    if not Path(path).exists():
        raise InvalidArgumentError(
            f"policy {spec!r} is neither a known name (random, round-robin, oracle, claim, "
            "fixed:K, fixed:all, best-fixed, lookahead, lookahead-expected, "
            "lookahead-per-claim, per-claim-heldout) nor an existing "
            "SB3 model file."
        )
    policy = SB3Policy(path, algorithm or None, observation_space=env.observation_space,
                       action_space=env.action_space)  # fmt: skip
    label = algorithm or training_settings(Path(path)).get("algorithm", "ppo")
    policy.name = f"{label}:{Path(path).parent.name or Path(path).stem}"
    return policy


NAMED = (
    "random", "round-robin", "oracle", "claim", "claim-adaptive", "lookahead",
    "lookahead-expected", "lookahead-per-claim", "per-claim-heldout", "fixed:all",
    "best-fixed",
)  # fmt: skip


def check_specs(specs: list[str]) -> None:
    """Refuse an unknown name or a missing model path now, before any model loads."""
    for spec in specs:
        if spec in NAMED or spec.startswith(("fixed:", "best-fixed:")):
            continue
        path = spec[len("ablate:") :] if spec.startswith("ablate:") else spec
        if path.split(":")[0] in (*ALGORITHMS, "rllib"):
            path = path.partition(":")[2]
        if not Path(path).is_file() and not is_rllib_run(path):
            raise InvalidArgumentError(
                f"policy {spec!r} is neither a known name ({', '.join(NAMED)}, fixed:K, "
                "best-fixed:PATH, ablate:MODEL) nor an existing SB3 model file or RLlib "
                "run directory (convenv train --backend rllib)."
            )


def make_policies(
    specs: list[str],
    env: PersonaInterviewEnv,
    seed: int = 0,
    best_fixed: Callable[[str | None], ActionPolicy] | None = None,
    ablation: Callable[[ActionPolicy], ActionPolicy] | None = None,
) -> list[ActionPolicy | LookaheadBound]:
    """Build the policies ``specs`` name, for ``env``'s action codes.

    ``best_fixed(path)`` makes the best-fixed policy (loading ``path`` if given) and
    ``ablation(policy)`` wraps a policy for ``ablate:``; jobs that offer those specs
    pass them (see :mod:`convenv.training.bench`).
    """
    n = len(env.actions)
    out: list[ActionPolicy | LookaheadBound] = []
    for spec in specs:
        if spec == "random":
            out.append(RandomPolicy(n, seed))
        elif spec == "round-robin":
            out.append(RoundRobinPolicy(n))
        elif spec in ("oracle", "claim"):
            policy = TopicOraclePolicy(env.actions, env.engine.identifier.encoder)
            policy.name = spec
            out.append(policy)
        elif spec == "claim-adaptive":
            out.append(AdaptiveClaimPolicy(n, env.engine.max_turns))
        elif spec == "lookahead":
            out.append(LookaheadBound())
        elif spec == "lookahead-expected":
            out.append(LookaheadBound(EXPECTED_NAME, EXPECTED_DRAWS))
        elif spec == "lookahead-per-claim":
            out.append(LookaheadBound(PER_CLAIM_NAME, EXPECTED_DRAWS, per_claim=True))
        elif spec == "per-claim-heldout":
            out.append(LookaheadBound(HELDOUT_NAME, EXPECTED_DRAWS, heldout=True))
        elif spec == "best-fixed" or spec.startswith("best-fixed:"):
            if best_fixed is None:
                raise InvalidArgumentError(
                    f"policy {spec!r} is offered by convenv bench and main only."
                )
            out.append(best_fixed(spec.partition(":")[2] or None))
        elif spec.startswith("ablate:"):
            if ablation is None:
                raise InvalidArgumentError(f"policy {spec!r} is offered by convenv bench only.")
            out.append(ablation(learned_policy(spec[len("ablate:") :], env)))
        elif spec == "fixed:all":
            out += [
                FixedSequencePolicy([k], n, name=f"fixed:{a.label}")
                for k, a in enumerate(env.actions)
            ]
        elif spec.startswith("fixed:"):
            try:
                sequence = [int(k) for k in spec[len("fixed:") :].split(",")]
            except ValueError as err:
                raise InvalidArgumentError(
                    f"policy {spec!r}; write fixed:K or fixed:K1,K2,... with code indices."
                ) from err
            out.append(FixedSequencePolicy(sequence, n))
        else:
            out.append(learned_policy(spec, env))
    return out
