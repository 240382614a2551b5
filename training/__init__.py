"""Jobs around the env: SB3 training, self-play, benchmarks, active learning, fine-tuning.

Each public class and function loads its module on first use, so ``import
convenv.training`` stays cheap: ``from convenv.training import LabelStore``.
"""

from __future__ import annotations

from convenv.lazy import lazy_attributes

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
    "SQLiteLabelStore": "convenv.training.label_db",
    "migrate_labels": "convenv.training.label_db",
    "BuildPartnerConfig": "convenv.training.build_partner",
    "build_partner": "convenv.training.build_partner",
    "create_app": "convenv.training.label_web",
}

__getattr__ = lazy_attributes(__name__, _LAZY)


__all__ = list(_LAZY)
