"""PersonaGPTAgent on a tiny GPT-2 built here: the real checkpoint's code path, no hub."""

import time

import pytest

from convenv.agents.base import DialogContext
from convenv.agents.personagpt import PersonaGPTAgent, PersonaGPTUnavailable
from convenv.agents.personagpt_prompt import encode_prompt
from convenv.env import PersonaInterviewEnv
from convenv.errors import InvalidArgumentError
from convenv.identifier import PersonaIdentifier
from convenv.testing import HashingEncoder
from convenv.tiny_models import build_tiny_personagpt


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    return build_tiny_personagpt(tmp_path_factory.mktemp("tiny-personagpt"))


@pytest.fixture(scope="module")
def greedy(tiny_dir):
    return PersonaGPTAgent(tiny_dir, do_sample=False, max_new_tokens=8)


def tokens(agent, ids):
    return agent.tokenizer.convert_ids_to_tokens(ids)


def test_partner_prompt_layout_token_by_token(greedy):
    tok = greedy.tokenizer
    context = DialogContext(("hi!", "hello."), persona=("i have a dog.", "i am a nurse."))
    expected = (
        ["<|p2|>"]
        + tok.tokenize("i have a dog.")
        + ["<|endoftext|>"]
        + tok.tokenize("i am a nurse.")
        + ["<|endoftext|>", "<|sep|>", "<|start|>"]
        + tok.tokenize("hi!")
        + ["<|endoftext|>"]
        + tok.tokenize("hello.")
        + ["<|endoftext|>"]
    )
    assert tokens(greedy, greedy.prompt_ids(context)) == expected


def test_action_prompt_layout_token_by_token(greedy):
    tok = greedy.tokenizer
    context = DialogContext(("hi!",), goal="ask about pets.")
    expected = (
        ["<|act|>"]
        + tok.tokenize(" ask about pets.")
        + ["<|p1|>", "<|sep|>", "<|start|>"]
        + tok.tokenize("hi!")
        + ["<|endoftext|>"]
    )
    assert tokens(greedy, greedy.prompt_ids(context)) == expected


def test_truncation_drops_oldest_turns_and_keeps_persona(greedy):
    persona = ("i have a dog.", "i am a nurse.")
    history = tuple(f"turn number {i} is here." for i in range(40))
    prompt = encode_prompt(greedy.tokenizer, history, persona)
    budget = len(prompt.prefix) + sum(len(t) for t in prompt.turns[-3:])
    ids = prompt.fit(budget)
    assert ids[: len(prompt.prefix)] == prompt.prefix
    assert ids[len(prompt.prefix) :] == [t for turn in prompt.turns[-3:] for t in turn]
    with pytest.raises(ValueError, match="prefix has"):
        prompt.fit(len(prompt.prefix) - 1)


def test_batched_equals_one_at_a_time_under_greedy_decoding(greedy):
    contexts = [
        DialogContext(("hi",), persona=("i have a dog.",)),
        DialogContext(("what do you do for a living? i work a lot.",), persona=("i am a nurse.",)),
        DialogContext((), goal="talk about work."),
        DialogContext(("do you like music?", "yes, jazz.", "me too!"), goal="ask about pets."),
    ]
    batched = greedy.respond(contexts)
    single = [greedy.respond([c])[0] for c in contexts]
    assert batched == single
    assert all("<|" not in reply for reply in batched)


def test_sampling_is_deterministic_for_a_seed(tiny_dir):
    agent = PersonaGPTAgent(tiny_dir, max_new_tokens=12)
    contexts = [DialogContext(("hi",), persona=("i have a dog.",), seed=3)] * 2
    assert agent.respond(contexts) == agent.respond(contexts)


def test_env_runs_an_episode_with_the_tiny_model(tiny_dir):
    agent = PersonaGPTAgent(tiny_dir, max_new_tokens=10)
    env = PersonaInterviewEnv(
        partner=agent,
        interviewer=agent,
        identifier=PersonaIdentifier(HashingEncoder()),
        max_turns=3,
    )
    env.reset(seed=0)
    for action in (0, 1, 2):
        *_, terminated, _, info = env.step(action)
    assert terminated and len(env.episode.history) == 6
    assert set(info["metrics"]) >= {"precision@1", "recall@5"}


def test_env_selects_personagpt_by_name(tiny_dir):
    env = PersonaInterviewEnv(
        partner="personagpt",
        interviewer="personagpt",
        model=str(tiny_dir),
        identifier=PersonaIdentifier(HashingEncoder()),
        max_turns=2,
    )
    assert env.engine.partner is env.engine.interviewer  # one model for both roles
    env.reset(seed=1)
    env.step(4)


def test_unreachable_model_fails_fast_with_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    started = time.time()
    with pytest.raises(PersonaGPTUnavailable, match=r"partner='retrieval'"):
        PersonaGPTAgent("af1tang/personaGPT-not-cached-here")
    empty = tmp_path / "empty-dir"
    empty.mkdir()
    with pytest.raises(PersonaGPTUnavailable, match="local directory"):
        PersonaGPTAgent(empty)
    assert time.time() - started < 30


def test_bad_device_is_a_clear_error(tiny_dir):
    with pytest.raises(ValueError, match="device="):
        PersonaGPTAgent(tiny_dir, device="tpu")


@pytest.mark.cuda
def test_bf16_on_cuda(tiny_dir):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    agent = PersonaGPTAgent(tiny_dir, device="cuda", do_sample=False, max_new_tokens=4)
    assert next(agent.model.parameters()).dtype == torch.bfloat16
    assert len(agent.respond([DialogContext(("hi",), persona=("i run.",))])) == 1


@pytest.mark.slow
def test_jobs_take_partner_interviewer_and_model_flags(tiny_dir, tmp_path, default_components):
    from convenv.training import chat, selfplay

    out = tmp_path / "sp.jsonl"
    assert (
        selfplay.main(
            [
                "--episodes",
                "2",
                "--max-turns",
                "2",
                "--partner",
                "personagpt",
                "--interviewer",
                "personagpt",
                "--model",
                str(tiny_dir),
                "--out",
                str(out),
                "--no-progress",
            ]
        )
        == 0
    )
    (first, _) = selfplay.read_episodes(out)
    assert len(first.utterances) == 4
    script = iter(["do you have pets?", ""])
    printed = []
    assert (
        chat.main(
            [
                "--mode",
                "0",
                "--partner",
                "personagpt",
                "--model",
                str(tiny_dir),
                "--persona",
                "i run.",
            ],
            input_fn=lambda _: next(script),
            print_fn=printed.append,
        )
        == 0
    )
    assert sum(line.startswith("partner:") for line in printed) == 1


def test_unreachable_hub_fails_in_seconds_without_offline_mode(monkeypatch):
    from convenv.errors import ConvenvError, ModelUnavailableError

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "https://127.0.0.1:9")  # nothing listens on the discard port
    started = time.time()
    with pytest.raises(ModelUnavailableError, match="not reachable") as caught:
        PersonaGPTAgent("af1tang/personaGPT-not-cached-here")
    assert isinstance(caught.value, ConvenvError)
    assert time.time() - started < 10


def test_precision_reaches_a_named_speaker_and_a_bad_one_is_refused(tiny_dir):
    import torch

    env = PersonaInterviewEnv(
        partner="personagpt", interviewer="personagpt", model=str(tiny_dir),
        identifier=PersonaIdentifier(HashingEncoder()), max_turns=2, precision="bfloat16",
    )  # fmt: skip
    assert env.engine.partner.model.dtype == torch.bfloat16
    env.reset(seed=1)
    _, _, _, _, info = env.step(4)
    assert isinstance(info["answer"], str)
    with pytest.raises(InvalidArgumentError, match="precision='fp16'"):
        PersonaInterviewEnv(partner="personagpt", model=str(tiny_dir), precision="fp16")
