"""PersonaGPT's recipe at toy scale on the CPU: perplexity and F1 before and after.

Builds the tiny stand-in (tokenizer trained on Persona-Chat text), evaluates it on
the first ``--eval-dialogs`` validation dialogs, fine-tunes it with ``convenv
finetune --task personachat`` on ``--train-dialogs`` train dialogs, evaluates again,
and prints the table with the training throughput (tokens/s).
Usage: python benchmarks/tiny_personachat_rebuild.py [--train-dialogs 500] [--epochs 1]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch

from convenv.agents.personagpt import PersonaGPTAgent
from convenv.personachat import load_dialogs
from convenv.tiny_models import build_tiny_personagpt
from convenv.training.evaluate import evaluate_model
from convenv.training.finetune import FinetuneConfig, finetune


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--train-dialogs", type=int, default=500)
    parser.add_argument("--eval-dialogs", type=int, default=50)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=3e-3)
    args = parser.parse_args()
    torch.set_num_threads(2)
    train = load_dialogs("train")[: args.train_dialogs]
    test = load_dialogs("test")[: args.eval_dialogs]
    sentences = [t for d in train for t in (*d.turns, *d.persona1, *d.persona2)]
    with tempfile.TemporaryDirectory() as tmp:
        base = build_tiny_personagpt(
            Path(tmp) / "base", sentences, vocab_size=2000, n_layer=2, n_embd=128
        )
        before = evaluate_model(
            PersonaGPTAgent(base, do_sample=False, max_new_tokens=24), test, progress=False
        )
        summary = finetune(
            FinetuneConfig(
                model=str(base),
                task="personachat",
                personachat_dialogs=args.train_dialogs,
                out=str(Path(tmp) / "tuned"),
                epochs=args.epochs,
                batch_size=args.batch_size,
                lr=args.lr,
                device="cpu",
                eval_fraction=0.02,
                progress=True,
            )
        )
        after = evaluate_model(
            PersonaGPTAgent(Path(tmp) / "tuned", do_sample=False, max_new_tokens=24),
            test,
            progress=False,
        )
    print(
        f"\ntiny stand-in (2 layers, 128 dims), {args.train_dialogs} train dialogs, "
        f"{args.epochs} epoch(s), {summary['steps']} updates of {args.batch_size}; "
        f"evaluated on {args.eval_dialogs} validation dialogs "
        f"({int(before['responses'])} responses)"
    )
    print("| model | perplexity | F1 |")
    print("|---|---|---|")
    print(f"| before fine-tuning | {before['perplexity']:.1f} | {before['f1']:.1f} |")
    print(f"| after fine-tuning | {after['perplexity']:.1f} | {after['f1']:.1f} |")
    print(
        f"training throughput: {summary['tokens_per_second']:.0f} tokens/s on {summary['device']}"
    )


if __name__ == "__main__":
    main()
