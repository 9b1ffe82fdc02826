"""What the generator needs to know of one zoo architecture (shared by zoo_models.py, the zoo
run in every test, and zoo_large.py, the large paddle.vision.models constructors)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import paddle.nn as nn
from paddle.static import InputSpec


@dataclass
class Arch:
    name: str
    family: str
    build: Callable[[], nn.Layer]
    specs: list  # (name, shape with None for dynamic, dtype)
    make_inputs: Callable[[np.random.RandomState, int], dict]
    seed: int = 0
    prefix: str = "model"  # "inference" for PaddleX / PaddleOCR style exports
    extra: dict = field(default_factory=dict)

    def input_spec(self):
        return [InputSpec(shape=s, dtype=d, name=n) for n, s, d in self.specs]

    def inputs(self, rng, batch):
        return self.make_inputs(rng, batch)


def image_inputs(c, h, w, name="x"):
    return lambda rng, b: {name: rng.standard_normal((b, c, h, w)).astype("float32")}
