"""Which personas each job may see: train for learning, a slice of train for model
selection, test only for benchmarks."""

from __future__ import annotations

from convenv.personachat import Persona, load_personas

# The last 10% of train personas select models during training, so test personas
# stay unseen until the benchmark.
VALIDATION_FRACTION = 0.1


def training_personas() -> tuple[Persona, ...]:
    personas = load_personas("train")
    return personas[: len(personas) - int(len(personas) * VALIDATION_FRACTION)]


def validation_personas() -> tuple[Persona, ...]:
    personas = load_personas("train")
    return personas[len(personas) - int(len(personas) * VALIDATION_FRACTION) :]
