"""Jobs around the env: SB3 training, self-play, benchmarks, active learning, fine-tuning.

Each public class and function loads its module on first use, so ``import
convenv.training`` stays cheap: ``from convenv.training import LabelStore``.
"""

from __future__ import annotations

from importlib import import_module

_LAZY = {
    "LabelStore": "convenv.training.label_store",
    "LabelledExample": "convenv.training.label_store",
    "TrainConfig": "convenv.training.train_policy",
    "train": "convenv.training.train_policy",
    "FinetuneConfig": "convenv.training.finetune",
    "finetune": "convenv.training.finetune",
    "IdentifierTrainingConfig": "convenv.training.train_identifier",
    "train_identifier": "convenv.training.train_identifier",
    "benchmark": "convenv.training.bench",
    "BenchResult": "convenv.training.bench",
    "search_fixed_sequence": "convenv.training.fixed_search",
    "FixedSequence": "convenv.training.fixed_search",
    "run_episodes": "convenv.training.rollout",
    "EpisodeRecord": "convenv.training.rollout",
    "read_episodes": "convenv.training.selfplay",
    "GoalJudge": "convenv.training.goal_judge",
}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'convenv.training' has no attribute {name!r}")


__all__ = list(_LAZY)
