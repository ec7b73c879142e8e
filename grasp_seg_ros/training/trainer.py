"""A small, resumable training loop for grasp-map networks on in-memory samples."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from grasp_seg_ros.training.losses import grasp_map_losses, total_loss

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
    """Adam + cosine schedule over (N, 1, S, S) inputs and (N, 4, S, S) targets.

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
        state = torch.load(checkpoint, weights_only=True)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        start_epoch, history = int(state["epoch"]), list(state["history"])
        LOG.info("resumed from %s at epoch %d", checkpoint, start_epoch)
    x_all, y_all = torch.from_numpy(inputs), torch.from_numpy(targets)
    end_epoch = config.epochs if stop_after_epochs is None \
        else min(config.epochs, start_epoch + stop_after_epochs)
    for epoch in range(start_epoch, end_epoch):
        model.train()
        gen = torch.Generator().manual_seed(config.seed * 1000 + epoch)
        order = torch.randperm(len(inputs), generator=gen)
        sums: dict[str, float] = {}
        t0 = time.perf_counter()
        bar = tqdm(range(steps_per_epoch), desc=f"epoch {epoch + 1}/{config.epochs}",
                   leave=False)
        for step in bar:
            idx = order[step * config.batch_size:(step + 1) * config.batch_size]
            x, y = x_all[idx], y_all[idx]
            if torch.rand((), generator=gen) < 0.5:  # flips keep labels exact
                x, y = x.flip(-1), y.flip(-1)
                y[:, 2] = -y[:, 2]  # mirroring negates the angle: sin 2a flips sign
            losses = grasp_map_losses(model(x)["out"], y)
            loss = total_loss(losses)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            for k, v in losses.items():
                sums[k] = sums.get(k, 0.0) + v.item()
            bar.set_postfix(loss=f"{loss.item():.4f}")
        record = {k: v / steps_per_epoch for k, v in sums.items()}
        record["loss"] = sum(record.values())
        record["epoch"] = epoch + 1
        record["seconds"] = time.perf_counter() - t0
        if val_inputs is not None and val_targets is not None:
            record["val_loss"] = evaluate_loss(model, val_inputs, val_targets)
        history.append(record)
        LOG.info("epoch %d: %s", epoch + 1,
                 ", ".join(f"{k}={v:.4f}" for k, v in record.items() if k != "epoch"))
        if checkpoint is not None:
            torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(),
                        "scheduler": sched.state_dict(), "epoch": epoch + 1,
                        "history": history}, checkpoint)
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
