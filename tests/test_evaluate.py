"""Persona-Chat evaluation: perplexity and F1, and fine-tuning that improves them."""

import math

import pytest
import torch

from convenv.agents.personagpt import PersonaGPTAgent
from convenv.personachat import Dialog, load_dialogs
from convenv.tiny_models import build_tiny_personagpt
from convenv.training import evaluate
from convenv.training.evaluate import evaluate_model, normalize_answer, unigram_f1
from convenv.training.finetune import FinetuneConfig, finetune


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    sentences = [
        t for d in load_dialogs("train")[:60] for t in (*d.turns, *d.persona1, *d.persona2)
    ]
    return build_tiny_personagpt(tmp_path_factory.mktemp("tiny-pc"), sentences, vocab_size=1200)


def test_normalisation_and_f1_match_hand_computed_values():
    assert normalize_answer("The cat, a DOG!  an apple.") == "cat dog apple"
    assert unigram_f1("i have a dog", "i have two dogs") == pytest.approx(
        2 * (2 / 3) * (2 / 4) / (2 / 3 + 2 / 4)
    )
    assert unigram_f1("the", "a") == 0.0
    assert unigram_f1("yes yes no", "yes") == pytest.approx(2 * (1 / 3) * 1 / (1 / 3 + 1))


def test_perplexity_is_exp_of_the_mean_response_token_loss(tiny_dir):
    agent = PersonaGPTAgent(tiny_dir, do_sample=False, max_new_tokens=4)
    dialog = Dialog(
        ("hi there", "i like dogs a lot"), ("i am a nurse.",), ("i have a dog.",), "test"
    )
    result = evaluate_model(agent, [dialog], generate=False, progress=False)
    tok = agent.tokenizer
    prompt = tok.encode("<|p2|>i have a dog.<|endoftext|><|sep|><|start|>hi there<|endoftext|>")
    reply = tok.encode("i like dogs a lot<|endoftext|>")
    ids = torch.tensor([prompt + reply])
    with torch.no_grad():
        logits = agent.model(input_ids=ids).logits[0]
    log_probs = torch.log_softmax(logits[:-1], dim=-1)
    targets = ids[0, 1:]
    token_losses = -log_probs[torch.arange(len(targets)), targets][len(prompt) - 1 :]
    assert len(token_losses) == len(reply)
    assert result["perplexity"] == pytest.approx(math.exp(token_losses.mean().item()), rel=1e-4)


@pytest.mark.slow
def test_finetuning_on_personachat_lowers_evaluation_perplexity(tiny_dir, tmp_path, capsys):
    test_dialogs = load_dialogs("test")[:5]
    before = evaluate_model(
        PersonaGPTAgent(tiny_dir, do_sample=False, max_new_tokens=16), test_dialogs, progress=False
    )
    out = tmp_path / "pc"
    summary = finetune(
        FinetuneConfig(
            model=str(tiny_dir),
            task="personachat",
            personachat_dialogs=60,
            out=str(out),
            epochs=2,
            batch_size=16,
            lr=3e-3,
            device="cpu",
            progress=False,
        )
    )
    assert summary["eval_loss_after"]["persona"] < summary["eval_loss_before"]["persona"]
    after = evaluate_model(
        PersonaGPTAgent(out, do_sample=False, max_new_tokens=16), test_dialogs, progress=False
    )
    assert after["perplexity"] < before["perplexity"] * 0.5
    assert after["f1"] >= 0.0 and after["responses"] == before["responses"]
    assert (
        evaluate.main(
            [
                "--model",
                str(out),
                "--limit",
                "2",
                "--no-progress",
                "--out",
                str(tmp_path / "e.json"),
            ]
        )
        == 0
    )
    table = capsys.readouterr().out
    assert "| PersonaGPT (published) | 10.2 | 43.4 |" in table
    assert (tmp_path / "e.json").exists()


def test_the_interviewer_score_reads_questions_back_as_codes():
    from convenv.actions import ActionSet
    from convenv.training.evaluate import evaluate_interviewer, interviewer_cases

    class PetsOnly:  # asks about pets whatever the code; silent after a long opening
        def respond(self, contexts):
            return ["" if len(c.history) > 2 else "so, do you have pets?" for c in contexts]

    class Judge:
        codes = tuple(ActionSet())

        def predict(self, questions):
            return ["ask about pets." if "pets" in q else "talk about work." for q in questions]

    dialog = Dialog(tuple(f"turn {i}" for i in range(8)), ("a.",), ("b.",), "test")
    assert len(interviewer_cases([dialog], ["x", "y"])) == 6  # 0, 2 and 6 turns in
    result = evaluate_interviewer(PetsOnly(), [dialog], Judge(), progress=False)
    assert result["interviewer_cases"] == 33
    assert result["question_rate"] == pytest.approx(22 / 33)
    assert result["empty_rate"] == pytest.approx(11 / 33)
    assert result["code_accuracy"] == pytest.approx(2 / 33)  # pets, at 0 and 2 turns
