"""Small data files the project authors itself, installed as ``convenv.data``.

Persona-Chat is never copied here (see README.md in this folder).
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def data_file(name: str) -> Path:
    """The path of a file shipped in ``convenv.data`` (works from a wheel and a checkout)."""
    return Path(str(files(__name__) / name))
