"""The large paddle.vision.models constructors: the deeper and wider ResNets / ResNeXts and
DenseNet-264 (662M parameters together, with num_classes=10). Their weights do not shrink with
the input, so they live in a zoo of their own (`make zoo-large`, its own cache directory keyed
by this file), where a change to the main zoo does not regenerate them. A 32x32 input keeps
their runs short: every one ends in adaptive average pooling, and 32x32 leaves a 1x1 map after
the last stage (stride 32), so every layer still runs.
"""
from __future__ import annotations

import paddle

from zoo_arch import Arch, image_inputs

SIZE = 32
V = paddle.vision.models
NAMES = [
    "resnet101", "resnet152",
    "resnext50_64x4d", "resnext101_32x4d", "resnext101_64x4d", "resnext152_32x4d", "resnext152_64x4d",
    "wide_resnet50_2", "wide_resnet101_2",
    "densenet264",
]

ARCHS: list[Arch] = [
    Arch(name, "vision", (lambda f: lambda: f(num_classes=10))(getattr(V, name)),
         [("x", [None, 3, SIZE, SIZE], "float32")], image_inputs(3, SIZE, SIZE), seed=2000 + i)
    for i, name in enumerate(NAMES)
]
