"""The one training epoch and the one checkpoint format, shared by every way of training here
(recipe runs, distillation, the in-memory bootstrap trainer)."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Callable, Iterable

import torch
from tqdm import tqdm

from grasp_seg_ros.training.losses import total_loss

LOG = logging.getLogger(__name__)

#: the checkpoint layout's version: a file of another version is refused with the reason
CHECKPOINT_FORMAT = 1

LossFn = Callable[[torch.Tensor, torch.Tensor], dict[str, torch.Tensor]]


def train_epoch(batches: Iterable[tuple[torch.Tensor, torch.Tensor]], *, steps: int,
                loss_fn: LossFn, optimizer: torch.optim.Optimizer,
                scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
                grad_clip: float = 0.0, desc: str = "epoch", show: bool = True
                ) -> dict[str, float]:
    """One pass of at most ``steps`` (input, target) batches: loss_fn(inputs, targets) gives
    named losses, their sum is minimised. Returns each named loss averaged over the steps, and
    their sum as ``loss`` and the epoch's wall time as ``seconds``."""
    sums: dict[str, float] = {}
    done = 0
    t0 = time.perf_counter()
    bar = tqdm(total=steps, desc=desc, leave=False, disable=not show)
    for x, y in batches:
        if done >= steps:
            break
        losses = loss_fn(x, y)
        loss = total_loss(losses)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if grad_clip:
            torch.nn.utils.clip_grad_norm_(
                [p for g in optimizer.param_groups for p in g["params"]], grad_clip)
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        for k, v in losses.items():
            sums[k] = sums.get(k, 0.0) + v.item()
        done += 1
        bar.update()
        bar.set_postfix(loss=f"{loss.item():.4f}")
    bar.close()
    if done == 0:
        raise ValueError("the epoch had no batch to train on")
    record = {k: v / done for k, v in sums.items()}
    record["loss"] = sum(record.values())
    record["seconds"] = time.perf_counter() - t0
    return record


def save_checkpoint(path: Path, *, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                    scheduler, epoch: int, history: list[dict],
                    extra: dict[str, torch.nn.Module] | None = None) -> None:
    """Everything a run needs to resume after ``epoch``: weights, optimiser and schedule
    state, the history so far, torch's RNG, and the state of ``extra`` modules (e.g. a
    distillation adapter). Written to a temporary file first, then renamed."""
    state = {"format": CHECKPOINT_FORMAT, "model": model.state_dict(),
             "optimizer": optimizer.state_dict(),
             "scheduler": scheduler.state_dict() if scheduler is not None else {},
             "epoch": int(epoch), "history": history, "torch_rng": torch.get_rng_state(),
             "extra": {k: m.state_dict() for k, m in (extra or {}).items()}}
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    tmp.replace(path)


def load_checkpoint(path: Path, *, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                    scheduler, extra: dict[str, torch.nn.Module] | None = None,
                    map_location=None) -> tuple[int, list[dict]]:
    """Restore what save_checkpoint wrote; returns (epochs done, history). Raises ValueError
    for a file of another layout, naming the file and what to do."""
    state = torch.load(path, map_location=map_location, weights_only=True)
    if state.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path} is not a checkpoint of this version (format "
                         f"{state.get('format')}, expected {CHECKPOINT_FORMAT}); delete it "
                         "to start the run afresh")
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    if scheduler is not None and state["scheduler"]:
        scheduler.load_state_dict(state["scheduler"])
    for k, module in (extra or {}).items():
        module.load_state_dict(state["extra"][k])
    torch.set_rng_state(state["torch_rng"])
    LOG.info("resumed from %s after epoch %d", path, state["epoch"])
    return int(state["epoch"]), list(state["history"])
