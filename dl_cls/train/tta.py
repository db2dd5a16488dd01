"""Test-time augmentation: mean softmax over rotations (x horizontal flip). Square inputs, so rot90 keeps shape."""
from __future__ import annotations

import torch


def views(rotations: list[int], hflip: bool) -> list[tuple[int, bool]]:
    return [(r, f) for r in rotations for f in ((False, True) if hflip else (False,))]


def apply(x: torch.Tensor, view: tuple[int, bool]) -> torch.Tensor:
    rot, flip = view
    if flip:
        x = x.flip(3)
    return torch.rot90(x, k=rot // 90, dims=(2, 3)) if rot else x


@torch.no_grad()
def predict(model: torch.nn.Module, x: torch.Tensor, view_list: list[tuple[int, bool]]) -> torch.Tensor:
    """Mean class probabilities (float32) of x over the views."""
    probs = None
    for v in view_list:
        p = model(apply(x, v)).float().softmax(1)
        probs = p if probs is None else probs + p
    return probs / len(view_list)
