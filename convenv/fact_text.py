"""Fact strings compared as a reader would: case, punctuation and contractions aside.

Persona-Chat holds near-duplicates ("i'm a nurse." / "i am a nurse"); a wrong
candidate or a hard negative that only differs in such marks is the true fact.
"""

from __future__ import annotations

import re
from functools import lru_cache

_CONTRACTIONS = {
    "i'm": "i am", "i've": "i have", "i'd": "i would", "i'll": "i will",
    "don't": "do not", "doesn't": "does not", "didn't": "did not", "can't": "cannot",
    "won't": "will not", "isn't": "is not", "aren't": "are not", "wasn't": "was not",
    "it's": "it is", "that's": "that is", "he's": "he is", "she's": "she is",
    "they're": "they are", "we're": "we are", "you're": "you are",
    "im": "i am", "ive": "i have", "dont": "do not", "cant": "cannot",
}  # fmt: skip
_WORD = re.compile(r"[a-z0-9']+")


@lru_cache(maxsize=200_000)
def normalize_fact(text: str) -> str:
    """Lower case, contractions expanded, punctuation and extra spaces dropped."""
    words = [_CONTRACTIONS.get(w, w) for w in _WORD.findall(text.lower().replace("’", "'"))]
    return " ".join(w.replace("'", "") for w in words)
