"""The prefix cache: a dialog's next turn reads only its new tokens, and answers as if it
had read the whole prompt (greedy decoding, tiny Llama and tiny GPT-2 built here)."""

from __future__ import annotations

import numpy as np
import pytest

from convenv.agents.base import DialogContext
from convenv.agents.prefix_cache import CachedPrompt, PrefixCache, batch_layout, common_prefix
from convenv.errors import InvalidArgumentError

PERSONAS = [
    ("i have a dog named max.", "i work as a nurse."),
    ("i play the guitar.", "i live in paris.", "i like tea."),
    ("i am a vegan.",),
]
QUESTIONS = ["hi! what do you do?", "do you have pets?", "where do you live?", "music?"]


@pytest.fixture(scope="module")
def chat_dir(tmp_path_factory):
    from convenv.tiny_models import build_tiny_chat_model

    return build_tiny_chat_model(tmp_path_factory.mktemp("prefix") / "chat")


@pytest.fixture(scope="module")
def personagpt_dir(tmp_path_factory):
    from convenv.tiny_models import build_tiny_personagpt

    return build_tiny_personagpt(tmp_path_factory.mktemp("prefix") / "personagpt")


def make(kind: str, directory, prefix_cache_mb: int):
    if kind == "chat":
        from convenv.agents.chat_model import ChatModelAgent as agent_class
    else:
        from convenv.agents.personagpt import PersonaGPTAgent as agent_class
    return agent_class(
        directory, device="cpu", do_sample=False, max_new_tokens=6, prefix_cache_mb=prefix_cache_mb
    )


def play(agent, turns: int) -> list[list[str]]:
    """Dialogs with every persona at once (uneven prompt lengths), turn by turn."""
    histories: list[list[str]] = [[] for _ in PERSONAS]
    said = []
    for turn in range(turns):
        for history in histories:
            history.append(QUESTIONS[turn % len(QUESTIONS)])
        contexts = [DialogContext(tuple(h), p) for h, p in zip(histories, PERSONAS, strict=True)]
        replies = agent.respond(contexts)
        said.append(replies)
        for history, reply in zip(histories, replies, strict=True):
            history.append(reply or "ok.")
    return said


@pytest.mark.parametrize("kind", ["chat", "personagpt"])
def test_a_cached_dialog_answers_as_one_read_whole(kind, chat_dir, personagpt_dir):
    directory = chat_dir if kind == "chat" else personagpt_dir
    whole, cached = make(kind, directory, 0), make(kind, directory, 64)
    assert whole.decode.prefix_cache is None
    assert play(cached, 4) == play(whole, 4)
    store = cached.decode.prefix_cache
    # From the second turn on, each dialog's earlier prompt was reused, not read again.
    assert store.reused_tokens > store.read_tokens
    assert len(store) == len(PERSONAS)  # one entry per dialog: a longer prompt replaces its prefix


def test_forks_of_one_dialog_share_its_prefix(chat_dir):
    """A lookahead asks every code from the same state: the forks reuse the dialog."""
    cached, whole = make("chat", chat_dir, 64), make("chat", chat_dir, 0)
    opening = DialogContext(("hi! what do you do?",), PERSONAS[0])
    cached.respond([opening])
    forks = [DialogContext((*opening.history, "i am a nurse.", q), PERSONAS[0]) for q in QUESTIONS]
    store = cached.decode.prefix_cache
    assert store.reused_tokens == 0
    assert cached.respond(forks) == whole.respond(forks)
    # Every fork reused the opening's whole prompt (it ends where the reply begins).
    assert store.reused_tokens == len(forks) * len(cached.prompt_ids(opening))


def test_the_store_keeps_to_its_size_oldest_first(chat_dir):
    agent = make("chat", chat_dir, 1)
    store = agent.decode.prefix_cache
    store.max_bytes = 0  # keeps only the newest prompt
    agent.respond([DialogContext(("hi!",), p) for p in PERSONAS])
    assert len(store) == 1 and store.nbytes == next(iter(store.entries.values())).nbytes
    store.max_bytes = 1 << 30
    agent.respond([DialogContext(("hi!",), p) for p in PERSONAS])
    assert len(store) == len(PERSONAS)
    store.clear()
    assert len(store) == 0 and store.nbytes == 0


def test_one_layout_serves_both_paths():
    rows = [[5, 6, 7], [8], [1, 2, 3, 4]]
    # Nothing reused: plain left padding, every row's last token in the last column.
    ids, mask = batch_layout(rows, [0, 0, 0], pad_id=0)
    assert ids.tolist() == [[0, 5, 6, 7], [0, 0, 0, 8], [1, 2, 3, 4]]
    assert mask.tolist() == [[0, 1, 1, 1], [0, 0, 0, 1], [1, 1, 1, 1]]
    # Reused prefixes right-aligned in their own block, new tokens in the next one.
    ids, mask = batch_layout(rows, [2, 0, 1], pad_id=0)
    assert ids.tolist() == [[5, 6, 0, 0, 7], [0, 0, 0, 0, 8], [0, 1, 2, 3, 4]]
    assert mask.tolist() == [[1, 1, 0, 0, 1], [0, 0, 0, 0, 1], [0, 1, 1, 1, 1]]


def test_a_match_always_leaves_a_token_to_read():
    store = PrefixCache()
    assert store.longest_match(np.array([1, 2, 3])) == (None, 0)
    store.entries[0] = CachedPrompt(np.array([1, 2, 3]), [])
    # The same prompt again: its last token is read anew (generate needs one input).
    assert store.longest_match(np.array([1, 2, 3]))[1] == 2
    assert store.longest_match(np.array([1, 2, 3, 4]))[1] == 3
    assert store.longest_match(np.array([9, 2, 3])) == (None, 0)
    assert common_prefix(np.array([1, 2, 3]), np.array([1, 2, 4, 5])) == 2
    assert common_prefix(np.array([1, 2]), np.array([1, 2, 3])) == 2


def test_a_negative_size_is_refused(chat_dir):
    with pytest.raises(InvalidArgumentError, match="prefix_cache_mb"):
        make("chat", chat_dir, -1)
