"""Training triplets for the identifier: (what a speaker said, own fact, someone else's
same-topic fact), from Persona-Chat *train* dialogs only.

Persona-Chat does not say which sentence states which fact, so each of a speaker's
facts is aligned with the speaker's sentence that the zero-shot encoder finds
closest (kept only when that similarity reaches ``min_similarity``: the fact was
talked about). The negative is one of the ``hard_pool`` facts of *other* personas
nearest the true fact, paraphrases excluded: "i have a cat" against "i have a dog".
No text of a test persona or a test dialog enters a triplet.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from tqdm.auto import tqdm

from convenv.candidates import nearest_facts
from convenv.personachat import Dialog, load_dialogs, load_personas
from convenv.vocabulary import normalize_fact, split_sentences


@dataclass(frozen=True)
class Triplet:
    """One training example for a ranking loss."""

    anchor: str  # a sentence the speaker said
    positive: str  # the speaker's own fact it states
    negative: str  # a same-topic fact of another persona


def held_out_texts() -> set[str]:
    """Every fact of a test persona or test dialog, and every test utterance sentence:
    nothing here may be trained on."""
    texts = {f for persona in load_personas("test") for f in persona}
    for dialog in load_dialogs("test"):
        texts.update(dialog.persona1)
        texts.update(dialog.persona2)
        texts.update(s for turn in dialog.turns for s in split_sentences(turn))
    return texts


def build_triplets(
    dialogs: Sequence[Dialog],
    encoder,
    min_similarity: float = 0.4,
    hard_pool: int = 30,
    seed: int = 0,
    progress: bool = True,
) -> list[Triplet]:
    """Aligned (sentence, own fact, hard negative) triplets from ``dialogs``."""
    rng = np.random.default_rng(seed)
    forbidden = held_out_texts()
    speakers = [
        (d.persona_of(s), [t for u in d.utterances_of(s) for t in split_sentences(u)])
        for d in dialogs
        for s in (1, 2)
        if d.persona_of(s)
    ]
    facts = sorted({f for persona, _ in speakers for f in persona} - forbidden)
    row = {f: i for i, f in enumerate(facts)}
    fact_vectors = encoder.encode_corpus(facts, desc="training facts")
    sentences = sorted({s for _, said in speakers for s in said} - forbidden)
    encoder.encode_corpus(sentences, desc="training sentences")
    table = nearest_facts(facts, fact_vectors, hard_pool)
    triplets = []
    for persona, said in tqdm(speakers, desc="aligning facts", disable=not progress):
        said = [s for s in said if s not in forbidden]
        own = [f for f in persona if f in row]
        if not said or not own:
            continue
        sims = fact_vectors[[row[f] for f in own]] @ encoder.encode(said).T
        mine = {normalize_fact(f) for f in persona}
        for k, fact in enumerate(own):
            best = int(np.argmax(sims[k]))
            if sims[k, best] < min_similarity:
                continue  # this fact was not talked about
            near = [j for j in table[row[fact]] if normalize_fact(facts[j]) not in mine]
            if near:
                negative = facts[near[int(rng.integers(len(near)))]]
                triplets.append(Triplet(said[best], fact, negative))
    return triplets
