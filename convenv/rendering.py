"""The dialog as a picture: ``render_mode="rgb_array"`` frames for video recorders.

Gymnasium's ``RecordVideo`` and SB3's ``make_vec_env`` ask envs for ``rgb_array``
frames; a text env answers with its transcript drawn on a fixed-size canvas (every
frame the same shape, as video encoders need), newest lines last.
"""

from __future__ import annotations

import textwrap

import numpy as np

WIDTH, HEIGHT = 640, 480
MARGIN, LINE_HEIGHT = 8, 14
COLUMNS = 100  # characters per line of the default bitmap font at this width


def text_image(text: str, width: int = WIDTH, height: int = HEIGHT) -> np.ndarray:
    """``(height, width, 3)`` uint8: ``text`` in black on white, wrapped, and cut to the
    lines that fit (the last ones: the end of a dialog is what changed)."""
    from PIL import Image, ImageDraw

    lines = [
        part
        for line in text.splitlines()
        for part in (textwrap.wrap(line, COLUMNS, subsequent_indent="    ") or [""])
    ]
    fits = max(1, (height - 2 * MARGIN) // LINE_HEIGHT)
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    for row, line in enumerate(lines[-fits:]):
        draw.text((MARGIN, MARGIN + row * LINE_HEIGHT), line, fill="black")
    return np.asarray(image, dtype=np.uint8)
