"""The rectangle metric of a model on a dataset (the same decoding as the node).

A prediction is correct when its rectangle has IoU > 0.25 with some ground-truth rectangle and
their angles differ by less than 30 degrees (core.metrics). Top-k: any of the k best peaks.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch
from tqdm import tqdm

from grasp_seg_ros.core.errors import NoGraspFound
from grasp_seg_ros.core.grasp import DecodeParams, Grasp2D, detect_grasps, maps_from_raw
from grasp_seg_ros.core.metrics import grasp_rectangle, is_correct
from grasp_seg_ros.training.datasets import GraspDataset
from grasp_seg_ros.training.height_maps import HeightMapDataset

# the metric ranks peaks: every peak counts, whatever its quality
METRIC_DECODE = DecodeParams(quality_threshold=-np.inf)


def predict_grasps(raw: np.ndarray, dataset: GraspDataset | HeightMapDataset, top_k: int,
                   params: DecodeParams = METRIC_DECODE) -> list[Grasp2D]:
    maps = maps_from_raw(raw, dataset.config.scaling, params)
    try:
        return detect_grasps(maps, replace(params, top_k=top_k))
    except NoGraspFound:
        return []


@torch.no_grad()
def rectangle_metric(model: torch.nn.Module, dataset: GraspDataset | HeightMapDataset, *,
                     top_k: tuple[int, ...] = (1, 5), batch_size: int = 8,
                     device: torch.device | str = "cpu", progress: bool = True) -> dict:
    """Accuracy at each k in top_k over the dataset (augmentation off)."""
    if dataset.augmentation is not None:
        raise ValueError("evaluate on a dataset without augmentation")
    model.eval()
    kmax = max(top_k)
    correct = {k: 0 for k in top_k}
    no_label = 0
    indices = range(len(dataset))
    bar = tqdm(range(0, len(dataset), batch_size), desc="rectangle metric",
               disable=not progress, leave=False)
    for start in bar:
        batch = [dataset.example(i) for i in indices[start:start + batch_size]]
        x = torch.from_numpy(np.stack([b[0] for b in batch])).to(device)
        raw = model(x)["out"].float().cpu().numpy()
        for (_, _, truth), maps in zip(batch, raw):
            if not truth:
                no_label += 1
                continue
            grasps = predict_grasps(maps, dataset, kmax)
            hits = [is_correct(grasp_rectangle(g), truth) for g in grasps]
            for k in top_k:
                correct[k] += any(hits[:k])
    n = len(dataset) - no_label
    out = {"samples": n, "without_labels": no_label}
    for k in top_k:
        out[f"top{k}_correct"] = correct[k]
        out[f"top{k}_accuracy"] = correct[k] / n if n else float("nan")
    return out


def direction_pairs(pred: torch.Tensor, target: torch.Tensor, *,
                    margin: float = 0.5) -> tuple[int, int]:
    """(pairs ordered right, pairs) between the labelled bins of one cell whose targets
    differ by at least ``margin``: does the direction that held better score higher? pred
    (N, B + 1, H, W) binned heads, target their (N, 2B + 2, H, W) targets
    (training.height_maps). A predictor blind to direction orders about half of them right
    (ties count as wrong)."""
    bins = pred.shape[1] - 1
    q = pred[:, :bins].permute(0, 2, 3, 1).reshape(-1, bins)
    t = target[:, :bins].permute(0, 2, 3, 1).reshape(-1, bins)
    lab = (target[:, bins:2 * bins] > 0).permute(0, 2, 3, 1).reshape(-1, bins)
    cells = lab.sum(1) >= 2
    q, t, lab = q[cells], t[cells], lab[cells]
    better = (t[:, :, None] - t[:, None, :] >= margin) & lab[:, :, None] & lab[:, None, :]
    right = better & (q[:, :, None] > q[:, None, :])
    return int(right.sum()), int(better.sum())
