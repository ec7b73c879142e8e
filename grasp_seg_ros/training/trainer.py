"""Training on in-memory samples (the bootstrap model): arrays in, training.loop's epoch and
checkpoint format, resumable."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from grasp_seg_ros.training.augmentation import flip_map_batch
from grasp_seg_ros.training.losses import grasp_map_losses, total_loss
from grasp_seg_ros.training.loop import load_checkpoint, save_checkpoint, train_epoch

LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 10
    batch_size: int = 8
    lr: float = 1e-3
    seed: int = 0


def train(model: torch.nn.Module, inputs: np.ndarray, targets: np.ndarray,
          config: TrainConfig, *, val_inputs: np.ndarray | None = None,
          val_targets: np.ndarray | None = None,
          checkpoint: Path | None = None,
          stop_after_epochs: int | None = None) -> list[dict[str, float]]:
    """Adam + cosine schedule over (N, 1, S, S) inputs and (N, 4, S, S) targets, each batch
    mirrored with p = 0.5 (training.augmentation), through training.loop's epoch.

    Returns one record per epoch (train and validation losses). With ``checkpoint``, state
    is saved after every epoch and a run resumes from it; ``stop_after_epochs`` ends this call
    early (a time-boxed slice of a longer run) without changing the schedule.
    """
    torch.manual_seed(config.seed)
    opt = torch.optim.Adam(model.parameters(), lr=config.lr)
    steps_per_epoch = max(1, len(inputs) // config.batch_size)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, config.epochs * steps_per_epoch)
    history: list[dict[str, float]] = []
    start_epoch = 0
    if checkpoint is not None and checkpoint.is_file():
        start_epoch, history = load_checkpoint(checkpoint, model=model, optimizer=opt,
                                               scheduler=sched)
    x_all, y_all = torch.from_numpy(inputs), torch.from_numpy(targets)

    def batches(epoch: int):
        gen = torch.Generator().manual_seed(config.seed * 1000 + epoch)
        order = torch.randperm(len(inputs), generator=gen)
        for step in range(steps_per_epoch):
            idx = order[step * config.batch_size:(step + 1) * config.batch_size]
            x, y = x_all[idx], y_all[idx]
            if torch.rand((), generator=gen) < 0.5:
                x, y = flip_map_batch(x, y)
            yield x, y

    end_epoch = config.epochs if stop_after_epochs is None \
        else min(config.epochs, start_epoch + stop_after_epochs)
    for epoch in range(start_epoch, end_epoch):
        model.train()
        record = train_epoch(batches(epoch), steps=steps_per_epoch,
                             loss_fn=lambda x, y: grasp_map_losses(model(x)["out"], y),
                             optimizer=opt, scheduler=sched,
                             desc=f"epoch {epoch + 1}/{config.epochs}")
        record["epoch"] = epoch + 1
        if val_inputs is not None and val_targets is not None:
            record["val_loss"] = evaluate_loss(model, val_inputs, val_targets)
        history.append(record)
        LOG.info("epoch %d: %s", epoch + 1,
                 ", ".join(f"{k}={v:.4f}" for k, v in record.items() if k != "epoch"))
        if checkpoint is not None:
            save_checkpoint(checkpoint, model=model, optimizer=opt, scheduler=sched,
                            epoch=epoch + 1, history=history)
    return history


@torch.no_grad()
def evaluate_loss(model: torch.nn.Module, inputs: np.ndarray, targets: np.ndarray,
                  batch_size: int = 16) -> float:
    """Mean total loss over a fixed set (no augmentation)."""
    model.eval()
    total, n = 0.0, 0
    for i in range(0, len(inputs), batch_size):
        x = torch.from_numpy(inputs[i:i + batch_size])
        y = torch.from_numpy(targets[i:i + batch_size])
        total += float(total_loss(grasp_map_losses(model(x)["out"], y))) * len(x)
        n += len(x)
    return total / max(n, 1)
