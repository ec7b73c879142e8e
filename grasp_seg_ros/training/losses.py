"""Losses outside the models: each returns a named dict; the trainer sums and checks it."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from grasp_seg_ros.nets.ggcnn import OUTPUT_CHANNELS


def grasp_map_losses(pred: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per-channel MSE between (N, 4, H, W) predicted and target maps (GG-CNN's loss); other
    channel counts (binned heads, e.g. a student against its teacher) give one MSE."""
    if pred.shape != target.shape:
        raise ValueError(f"prediction {tuple(pred.shape)} and target {tuple(target.shape)} "
                         f"differ in shape")
    if pred.shape[1] != len(OUTPUT_CHANNELS):
        return {"loss_maps": F.mse_loss(pred, target)}
    return {f"loss_{name}": F.mse_loss(pred[:, i], target[:, i])
            for i, name in enumerate(OUTPUT_CHANNELS)}


def binned_map_losses(pred: torch.Tensor, target: torch.Tensor, *, rank_weight: float = 0.0,
                      rank_temperature: float = 0.1) -> dict[str, torch.Tensor]:
    """Weighted MSE of binned heads: pred (N, B + 1, H, W) quality bins and width; target
    (N, 2B + 2, H, W) bin targets, bin weights, width, width weight (training.height_maps).

    Bin weights > 0 mark what candidates say, < 0 the background (its magnitude weighs it),
    0 nothing. The two are averaged separately, so the few candidate cells count as much as
    the many background cells; the width term averages the pixels of good candidates.

    With ``rank_weight`` > 0, a listwise term compares the bins of one cell: wherever a cell
    has candidates of several directions and not all of them failed, the softmax of its
    labelled bins' qualities (over ``rank_temperature``) is pulled towards their robustness,
    normalised (cross-entropy less the target's entropy: 0 when the order and ratios match).
    The MSE alone lets a cell predict its candidates' mean robustness in every bin (which
    direction holds is a small part of the variance of noisy trial labels); this term
    only sees which direction holds better."""
    bins = pred.shape[1] - 1
    if target.shape[1] != 2 * bins + 2 or target.shape[2:] != pred.shape[2:]:
        raise ValueError(f"binned prediction {tuple(pred.shape)} needs a target of "
                         f"{2 * bins + 2} channels, got {tuple(target.shape)}")
    q_t, q_w = target[:, :bins], target[:, bins:2 * bins]
    w_t, w_w = target[:, 2 * bins], target[:, 2 * bins + 1]
    err = (pred[:, :bins] - q_t) ** 2
    cand = q_w.clamp_min(0.0)
    back = (-q_w).clamp_min(0.0)
    loss_q = (cand * err).sum() / cand.sum().clamp_min(1.0)
    loss_bg = (back * err).sum() / (back > 0).sum().clamp_min(1)
    loss_w = (w_w * (pred[:, bins] - w_t) ** 2).sum() / w_w.sum().clamp_min(1.0)
    losses = {"loss_quality_bins": loss_q, "loss_background": loss_bg, "loss_width": loss_w}
    if rank_weight > 0:
        losses["loss_bin_ranking"] = rank_weight * bin_ranking_loss(
            pred[:, :bins], q_t, q_w, temperature=rank_temperature)
    return losses


def bin_ranking_loss(pred: torch.Tensor, q_t: torch.Tensor, q_w: torch.Tensor, *,
                     temperature: float = 0.1) -> torch.Tensor:
    """Listwise loss between the labelled bins of each cell (binned_map_losses): (N, B, H, W)
    predicted qualities, targets and weights; 0 when no cell compares directions."""
    if temperature <= 0:
        raise ValueError(f"rank temperature must be > 0, got {temperature}")
    labelled = q_w > 0
    t = torch.where(labelled, q_t, torch.zeros_like(q_t))
    # cells with two or more labelled bins whose targets are not all equal
    t_max = torch.where(labelled, q_t, torch.full_like(q_t, -1.0)).amax(1)
    t_min = torch.where(labelled, q_t, torch.full_like(q_t, 2.0)).amin(1)
    use = (labelled.sum(1) >= 2) & (t_max - t_min > 1e-6) & (t_max > 0)
    if not bool(use.any()):
        return pred.sum() * 0.0
    # (cells, B): the compared cells only
    p = pred.permute(0, 2, 3, 1)[use]
    lab = labelled.permute(0, 2, 3, 1)[use]
    tt = t.permute(0, 2, 3, 1)[use]
    target = tt / tt.sum(1, keepdim=True)
    logits = (p / temperature).masked_fill(~lab, float("-inf"))
    log_p = torch.log_softmax(logits, dim=1)
    keep = target > 0
    ce = -(target * torch.where(keep, log_p, torch.zeros_like(log_p))).sum(1)
    entropy = -(target * torch.where(keep, target.clamp_min(1e-12).log(),
                                     torch.zeros_like(target))).sum(1)
    return (ce - entropy).mean()


def map_losses(pred: torch.Tensor, target: torch.Tensor, **binned) -> dict[str, torch.Tensor]:
    """The loss the target asks for: binned (2B + 2 target channels; ``binned`` are
    binned_map_losses' options) or GG-CNN's."""
    if target.shape[1] == 2 * pred.shape[1]:
        return binned_map_losses(pred, target, **binned)
    return grasp_map_losses(pred, target)


def total_loss(losses: dict[str, torch.Tensor]) -> torch.Tensor:
    """Sum a loss dict; raise FloatingPointError naming the first non-finite term."""
    for name, value in losses.items():
        if not torch.isfinite(value).all():
            raise FloatingPointError(f"{name} is not finite ({value.item()})")
    return torch.stack(list(losses.values())).sum()


def model_losses(outputs: dict[str, torch.Tensor], target: torch.Tensor, *,
                 aux_weight: float = 0.4, **binned) -> dict[str, torch.Tensor]:
    """Map losses of ``out``, plus ``aux`` (PSPNet's auxiliary head) weighted by aux_weight;
    ``binned``: binned_map_losses' options."""
    losses = map_losses(outputs["out"], target, **binned)
    if "aux" in outputs and aux_weight > 0:
        losses.update({f"aux_{k}": aux_weight * v
                       for k, v in map_losses(outputs["aux"], target, **binned).items()})
    return losses


class Distiller:
    """Knowledge distillation from a frozen teacher: the student learns from the labels, from
    the teacher's output maps (per-channel MSE) and, with ``feature_weight > 0``, from the
    teacher's intermediate features through a trained 1x1 adapter (FitNets-style hint).

    The teacher is put in eval mode with gradients off and is never given to an optimiser;
    the adapter's parameters are (``trainable``), and its state goes into the checkpoint.
    ``feature_layer`` names a submodule present in both networks (``layer4``: the input of
    PSPNet's context module); student features are resized to the teacher's when their
    output strides differ.
    """

    def __init__(self, teacher: torch.nn.Module, *, kd_weight: float = 1.0,
                 gt_weight: float = 1.0, aux_weight: float = 0.4,
                 feature_weight: float = 0.0, student: torch.nn.Module | None = None,
                 feature_layer: str = "layer4", binned: dict | None = None) -> None:
        self.teacher = teacher.eval()
        for p in self.teacher.parameters():
            p.requires_grad_(False)
        self.kd_weight, self.gt_weight, self.aux_weight = kd_weight, gt_weight, aux_weight
        self.feature_weight = feature_weight
        self.binned = dict(binned or {})  #: binned_map_losses' options for the label terms
        self.adapter: torch.nn.Module | None = None
        self._features: dict[str, torch.Tensor] = {}
        if feature_weight > 0:
            if student is None:
                raise ValueError("feature distillation needs the student (student=...)")
            c_student = self._hook(student, feature_layer, "student")
            c_teacher = self._hook(teacher, feature_layer, "teacher")
            device = next(student.parameters()).device
            self.adapter = torch.nn.Conv2d(c_student, c_teacher, 1).to(device)

    def _hook(self, model: torch.nn.Module, layer: str, key: str) -> int:
        try:
            module = model.get_submodule(layer)
        except AttributeError:
            raise ValueError(f"feature distillation: {type(model).__name__} has no submodule "
                             f"'{layer}' (distill.feature_layer)") from None

        def keep(_module, _inputs, output):
            self._features[key] = output
        module.register_forward_hook(keep)
        # one small pass in eval mode (BatchNorm statistics untouched) finds the channels
        was_training = model.training
        model.eval()
        with torch.no_grad():
            device = next(model.parameters()).device
            model(torch.zeros(1, 1, 64, 64, device=device))
        model.train(was_training)
        return int(self._features.pop(key).shape[1])

    @property
    def trainable(self) -> list[torch.nn.Parameter]:
        return [] if self.adapter is None else list(self.adapter.parameters())

    def losses(self, student_outputs: dict[str, torch.Tensor], x: torch.Tensor,
               target: torch.Tensor) -> dict[str, torch.Tensor]:
        with torch.no_grad():
            teacher_out = self.teacher(x)["out"]
        losses = {k: self.gt_weight * v for k, v in
                  model_losses(student_outputs, target, aux_weight=self.aux_weight,
                               **self.binned).items()}
        losses.update({f"kd_{k}": self.kd_weight * v for k, v in
                       grasp_map_losses(student_outputs["out"], teacher_out).items()})
        if self.adapter is not None:
            f_s = self.adapter(self._features.pop("student"))
            f_t = self._features.pop("teacher")
            if f_s.shape[-2:] != f_t.shape[-2:]:
                f_s = F.interpolate(f_s, size=f_t.shape[-2:], mode="bilinear",
                                    align_corners=False)
            losses["kd_features"] = self.feature_weight * F.mse_loss(f_s, f_t)
        return losses
