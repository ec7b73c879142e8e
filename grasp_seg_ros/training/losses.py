"""Losses outside the models: each returns a named dict; the trainer sums and checks it."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from grasp_seg_ros.nets.ggcnn import OUTPUT_CHANNELS


def grasp_map_losses(pred: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per-channel MSE between (N, 4, H, W) predicted and target maps (GG-CNN's loss)."""
    if pred.shape != target.shape:
        raise ValueError(f"prediction {tuple(pred.shape)} and target {tuple(target.shape)} "
                         f"differ in shape")
    return {f"loss_{name}": F.mse_loss(pred[:, i], target[:, i])
            for i, name in enumerate(OUTPUT_CHANNELS)}


def total_loss(losses: dict[str, torch.Tensor]) -> torch.Tensor:
    """Sum a loss dict; raise FloatingPointError naming the first non-finite term."""
    for name, value in losses.items():
        if not torch.isfinite(value).all():
            raise FloatingPointError(f"{name} is not finite ({value.item()})")
    return torch.stack(list(losses.values())).sum()
