"""``convenv evaluate``: PersonaGPT-style evaluation on Persona-Chat test dialogs.

Perplexity of the gold responses (token-weighted over response tokens only, each
speaker's persona in front) and unigram F1 of generated responses against the gold
ones, with ConvAI2's normalisation (lower case, no punctuation, no articles).
"""

from __future__ import annotations

import argparse
import json
import math
import re
import string
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import torch
from tqdm.auto import tqdm

from convenv.agents.base import DialogContext
from convenv.agents.personagpt import PRECISIONS, PersonaGPTAgent
from convenv.cli import plain
from convenv.personachat import Dialog, load_dialogs
from convenv.training.finetune import evaluate_loss
from convenv.training.finetune_data import personachat_examples

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = str.maketrans("", "", string.punctuation)

# The table of the PersonaGPT README, for comparison.
PUBLISHED = {
    "GPT-2 baseline": (99.5, 5.8),
    "DialoGPT baseline": (56.6, 12.6),
    "DialoGPT fine-tuned": (11.4, 22.7),
    "PersonaGPT": (10.2, 43.4),
}


def normalize_answer(text: str) -> str:
    """ConvAI2's normalisation: lower case, drop punctuation and articles, squeeze spaces."""
    text = _ARTICLES.sub(" ", text.lower().translate(_PUNCTUATION))
    return " ".join(text.split())


def unigram_f1(prediction: str, gold: str) -> float:
    """F1 of the normalised unigram overlap (0 when either side is empty)."""
    predicted, reference = normalize_answer(prediction).split(), normalize_answer(gold).split()
    common = sum((Counter(predicted) & Counter(reference)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(predicted), common / len(reference)
    return 2 * precision * recall / (precision + recall)


def response_cases(dialogs: Sequence[Dialog]) -> list[tuple[DialogContext, str]]:
    """(context, gold response) for every response with a persona, both speakers."""
    cases = []
    for dialog in dialogs:
        for i in range(1, len(dialog.turns)):
            persona = dialog.persona_of(1 if i % 2 == 0 else 2)
            if persona:
                cases.append((DialogContext(dialog.turns[:i], persona=persona), dialog.turns[i]))
    return cases


def evaluate_model(
    agent: PersonaGPTAgent,
    dialogs: Sequence[Dialog],
    batch_size: int = 16,
    generate: bool = True,
    progress: bool = True,
    perplexity: bool = True,
) -> dict[str, float]:
    """Perplexity and F1 of ``agent``'s model on ``dialogs``."""
    result: dict[str, float] = {}
    if perplexity:
        examples = personachat_examples(agent.tokenizer, dialogs, agent.max_context)
        loss = evaluate_loss(
            agent.model, examples, agent.tokenizer.pad_token_id, agent.device, batch_size
        )["all"]
        result = {"perplexity": math.exp(loss), "loss": loss, "responses": float(len(examples))}
    if generate:
        cases = response_cases(dialogs)
        scores = []
        for start in tqdm(
            range(0, len(cases), batch_size), desc="generating", disable=not progress
        ):
            batch = cases[start : start + batch_size]
            replies = agent.respond([c for c, _ in batch])
            scores += [unigram_f1(r, gold) for r, (_, gold) in zip(replies, batch, strict=True)]
        result["f1"] = 100.0 * sum(scores) / max(len(scores), 1)
    return result


def interviewer_cases(dialogs: Sequence[Dialog], codes: Sequence[str], turns=(0, 2, 6)):
    """Interviewer prompts: each code after the first 0/2/6 turns of each dialog."""
    return [
        DialogContext(dialog.turns[:n], goal=code)
        for dialog in dialogs
        for n in turns
        if n <= len(dialog.turns)
        for code in codes
    ]


def evaluate_interviewer(
    agent: PersonaGPTAgent, dialogs: Sequence[Dialog], judge, batch_size: int = 16,
    progress: bool = True,
) -> dict[str, float]:  # fmt: skip
    """How well the model plays the interviewer: for every action code after a few
    dialog openings, does it ask a question (``question_rate``), and does the goal
    judge (calibrated on ``data/goal_questions.csv``) read that question as the code
    it was asked for (``code_accuracy``, chance 1/11)?"""
    from convenv.training.goal_judge import question_clause

    codes = [c.prompt for c in judge.codes]
    cases = interviewer_cases(dialogs, codes)
    questions: list[str] = []
    for start in tqdm(range(0, len(cases), batch_size), desc="asking", disable=not progress):
        questions += agent.respond(cases[start : start + batch_size])
    asked = [bool(q.strip()) and "?" in q for q in questions]
    predicted = judge.predict([question_clause(q) or "-" for q in questions])
    hits = [a and p == c.goal for a, p, c in zip(asked, predicted, cases, strict=True)]
    return {
        "question_rate": sum(asked) / max(len(cases), 1),
        "empty_rate": sum(not q.strip() for q in questions) / max(len(cases), 1),
        "code_accuracy": sum(hits) / max(len(cases), 1),
        "interviewer_cases": float(len(cases)),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="convenv evaluate",
        description=plain(__doc__),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--model", default="af1tang/personaGPT", help="hub name or directory")
    parser.add_argument("--limit", type=int, default=None, help="first N test dialogs only")
    parser.add_argument("--batch-size", type=int, default=16, help="dialogs per forward pass")
    parser.add_argument(
        "--max-new-tokens", type=int, default=32, help="longest reply generated for F1"
    )
    parser.add_argument("--no-f1", action="store_true", help="perplexity only (no generation)")
    parser.add_argument("--no-perplexity", action="store_true", help="F1 only (no perplexity pass)")
    parser.add_argument(
        "--interviewer",
        action="store_true",
        help="also score the interviewer role: questions per action code, read back by the "
        "goal judge",
    )
    parser.add_argument(
        "--precision",
        default="auto",
        choices=PRECISIONS,
        help="weights: auto (bf16 on CUDA), float32, bfloat16 (faster generation on CPU)",
    )
    parser.add_argument("--device", default="auto", help="auto (CUDA if present), cpu or cuda:N")
    parser.add_argument("--out", default=None, help="write the results as JSON here")
    parser.add_argument(
        "--progress", action=argparse.BooleanOptionalAction, default=True, help="progress bars"
    )
    args = parser.parse_args(argv)
    dialogs = load_dialogs("test")[: args.limit] if args.limit else load_dialogs("test")
    # Greedy decoding: F1 of the most likely reply, reproducible run to run.
    if args.no_f1 and args.no_perplexity and not args.interviewer:
        parser.error("--no-f1 and --no-perplexity leave nothing to measure; drop one")
    agent = PersonaGPTAgent(
        args.model,
        device=args.device,
        do_sample=False,
        max_new_tokens=args.max_new_tokens,
        precision=args.precision,
    )
    torch.manual_seed(0)
    result = evaluate_model(
        agent, dialogs, args.batch_size, not args.no_f1, args.progress, not args.no_perplexity
    )
    print("| model | perplexity | F1 |")
    print("|---|---|---|")
    for name, (ppl, f1) in PUBLISHED.items():
        print(f"| {name} (published) | {ppl} | {f1} |")
    if args.interviewer:
        from convenv.training.label_session import bundled_calibrated_judge

        judge = bundled_calibrated_judge(args.device)
        result.update(evaluate_interviewer(agent, dialogs, judge, args.batch_size, args.progress))
    f1 = f"{result['f1']:.1f}" if "f1" in result else "-"
    ppl = f"{result['perplexity']:.1f}" if "perplexity" in result else "-"
    print(f"| {args.model} (this run, {len(dialogs)} dialogs) | {ppl} | {f1} |")
    if args.interviewer:
        print(
            f"interviewer ({result['interviewer_cases']:.0f} prompts): asks a question "
            f"{result['question_rate']:.1%}, empty {result['empty_rate']:.1%}, on the asked "
            f"code (goal judge) {result['code_accuracy']:.1%} (chance {1 / 11:.1%})"
        )
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps({"model": args.model, **result}, indent=2))
    return 0
