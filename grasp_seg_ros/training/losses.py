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


def model_losses(outputs: dict[str, torch.Tensor], target: torch.Tensor, *,
                 aux_weight: float = 0.4) -> dict[str, torch.Tensor]:
    """Map losses of ``out``, plus ``aux`` (PSPNet's auxiliary head) weighted by aux_weight."""
    losses = grasp_map_losses(outputs["out"], target)
    if "aux" in outputs and aux_weight > 0:
        losses.update({f"aux_{k}": aux_weight * v
                       for k, v in grasp_map_losses(outputs["aux"], target).items()})
    return losses


class Distiller:
    """Knowledge distillation from a frozen teacher: the student learns from the labels and
    from the teacher's output maps (per-channel MSE), each term weighted.

    The teacher is put in eval mode with gradients off and is never given to an optimiser.
    """

    def __init__(self, teacher: torch.nn.Module, *, kd_weight: float = 1.0,
                 gt_weight: float = 1.0, aux_weight: float = 0.4) -> None:
        self.teacher = teacher.eval()
        for p in self.teacher.parameters():
            p.requires_grad_(False)
        self.kd_weight, self.gt_weight, self.aux_weight = kd_weight, gt_weight, aux_weight

    def losses(self, student_outputs: dict[str, torch.Tensor], x: torch.Tensor,
               target: torch.Tensor) -> dict[str, torch.Tensor]:
        with torch.no_grad():
            teacher_out = self.teacher(x)["out"]
        losses = {k: self.gt_weight * v for k, v in
                  model_losses(student_outputs, target, aux_weight=self.aux_weight).items()}
        losses.update({f"kd_{k}": self.kd_weight * v for k, v in
                       grasp_map_losses(student_outputs["out"], teacher_out).items()})
        return losses
