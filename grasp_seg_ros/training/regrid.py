"""A height-map model's answers on another grid: distil a trained model (the teacher) into a
student that sees the same scenes on a coarser or smaller grid.

    grasp-seg regrid --teacher ggcnn2_heightmap_v2 --size 180 --resolution 0.0025 \\
        --scenes 3000 --epochs 8 --out runs/regrid_180

The network's cost grows with the number of cells; the grid is part of a model's metadata, so
a model for another grid has to be trained for it. No labels are needed: the teacher's own
answer is the target. Every sample is one rendered view of a synthetic scene (tables and
trays, 1-8 objects of the training split, a random real camera: kind, mode, height
0.3-1.0 m, tilt, azimuth; sim.camera.random_camera) turned into two height maps of the same
plane, centre and axes: the teacher's grid (its metadata) and the student's. The teacher runs
on its map; its output (quality per angle bin and width) is resampled onto the student's cells
(linear, by the cells' metric positions), the width converted to the student's cells. A
student cell thus learns what the teacher says at the same point of the table.

Samples are kept in shards in the data cache (``$XDG_CACHE_HOME/grasp_seg_ros/regrid/``,
named by the teacher file's digest, the student grid and the renderer's fingerprint,
core.heightmap.render_fingerprint: maps rendered by other code are never mixed in), so an
interrupted generation goes on where it stopped and a second run trains from the same data;
training runs the shared epoch (training.loop), checkpoints every epoch in ``--out`` and
resumes from the last one.

The loss: per cell, the mean squared error of the bins and the width, weighted up where the
teacher rates some direction (the background is most of a map), plus the cross-entropy of the
bins' softmax (temperature 0.1) against the teacher's there, so that the order of directions,
the thing the teacher learnt hardest, carries over.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import multiprocessing
import os
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np
import torch
from tqdm import tqdm

from grasp_seg_ros.core.errors import GraspSegError
from grasp_seg_ros.core.heightmap import (HeightMapGrid, HeightMapSpec, make_height_map,
                                          render_fingerprint)
from grasp_seg_ros.core.resources import DEFAULT_MODEL, cache_dir, resolve_model
from grasp_seg_ros.training.loop import load_checkpoint, save_checkpoint, train_epoch
from grasp_seg_ros.nets.weights import load_weights, read_metadata, save_weights

LOG = logging.getLogger(__name__)
#: first scene seed of regrid samples (inside the dataset seeds: never a judged scene)
FIRST_SEED = 1_800_000
SHARD_SCENES = 50
#: cameras (views) rendered of each scene
VIEWS_PER_SCENE = 2
#: teacher quality above which a cell counts as rated (its loss weight)
RATED = 0.1
TEMPERATURE = 0.1
#: loss weight of a cell the teacher rates nowhere above RATED, against 1 + this for a rated
#: one (the background is most of a map)
UNRATED_WEIGHT = 0.1
#: temperature of the softmax over cells (regrid_losses' spatial term)
SPATIAL_TEMPERATURE = 0.02


@dataclass(frozen=True)
class RegridSpec:
    """Teacher file and the student's grid; with the renderer's fingerprint they name the
    samples' cache folder."""

    teacher: Path
    student: HeightMapSpec

    def cache_dir(self, root: Path | None = None) -> Path:
        root = root if root is not None else cache_dir("regrid")
        digest = hashlib.sha256(Path(self.teacher).read_bytes()).hexdigest()[:12]
        s = self.student
        return root / (f"{Path(self.teacher).stem}-{digest}-{s.size_px}x"
                       f"{s.resolution_m * 1e3:g}mm-render{render_fingerprint()}")


def student_grid(teacher_grid: HeightMapGrid, spec: HeightMapSpec) -> HeightMapGrid:
    """The student's grid: the teacher's plane, centre and axes, the student's cells."""
    return replace(teacher_grid, resolution_m=float(spec.resolution_m), size_px=int(spec.size_px))


def resample_to(teacher_out: np.ndarray, teacher: HeightMapSpec,
                student: HeightMapSpec, *, bins: int) -> np.ndarray:
    """(B + 1, S_t, S_t) teacher output (bins, then width in teacher cells / width scale) ->
    (B + 1, S_s, S_s) on the student's cells, which share the teacher's centre and axes:
    each student cell takes the teacher's value at its metric position (linear), the width
    converted to student cells. Outside the teacher's map: the nearest edge value."""
    ratio = student.resolution_m / teacher.resolution_m
    c_s, c_t = (student.size_px - 1) / 2.0, (teacher.size_px - 1) / 2.0
    idx = ((np.arange(student.size_px, dtype=np.float32) - c_s) * ratio + c_t).astype(np.float32)
    cols, rows = np.meshgrid(idx, idx)
    out = np.stack([cv2.remap(np.ascontiguousarray(ch, np.float32), cols, rows,
                              cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
                    for ch in teacher_out])
    out[bins:] /= ratio   # a width of w teacher cells is w / ratio student cells
    return out


def _scene_views(seed: int, teacher_spec: HeightMapSpec, student_spec: HeightMapSpec,
                 views: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(teacher height map, student height map) of ``views`` cameras on one scene."""
    from grasp_seg_ros.sim.camera import random_camera
    from grasp_seg_ros.sim.scene import SceneConfig, make_scene

    rng = np.random.default_rng([seed, 11])
    tray = bool(rng.random() < 0.5)
    config = SceneConfig(num_objects=(1, 8), area_half_m=0.09 if tray else 0.12,
                         sources=("random_urdfs", "primitives"), split="train", tray=tray)
    cameras = [random_camera(rng) for _ in range(views)]
    out = []
    with make_scene(seed, camera=cameras[0][0], config=config) as scene:
        for camera, noise in cameras:
            scene.camera = camera
            depth, _ = scene.render(noise, rng)
            try:
                t = make_height_map(depth, camera.intrinsics(), teacher_spec)
                turned = t.grid.moved(rotation_rad=float(rng.uniform(-np.pi, np.pi)))
                t = make_height_map(depth, camera.intrinsics(), teacher_spec, plane=t.plane,
                                    grid=turned)
                s = make_height_map(depth, camera.intrinsics(), student_spec, plane=t.plane,
                                    grid=student_grid(turned, student_spec))
            except GraspSegError as exc:   # a view with too little depth: skipped
                LOG.debug("scene %d: view skipped (%s)", seed, exc)
                continue
            out.append((t.height_m, s.height_m))
    return out


def _make_shard(job: tuple[Path, int, int, str, dict]) -> Path:
    path, first, scenes, teacher, student = job
    from grasp_seg_ros.inference.backends import make_backend

    torch.set_num_threads(1)
    backend, meta, _ = make_backend(Path(teacher), device="cpu", num_threads=1,
                                    backend="onnxruntime")
    spec = HeightMapSpec.from_dict(student)
    bins = meta.scaling.angle_bins
    inputs, targets, seeds = [], [], []
    for seed in range(first, first + scenes):
        for t_map, s_map in _scene_views(seed, meta.height_map, spec, views=VIEWS_PER_SCENE):
            raw = backend(meta.normalisation.apply(t_map))
            inputs.append(s_map.astype(np.float16))
            targets.append(resample_to(raw, meta.height_map, spec, bins=bins).astype(np.float16))
            seeds.append(seed)
    size, channels = spec.size_px, bins + 1   # a shard whose every view was skipped is empty
    tmp = path.with_suffix(".part.npz")
    np.savez(tmp, height_m=np.array(inputs, np.float16).reshape(-1, size, size),
             target=np.array(targets, np.float16).reshape(-1, channels, size, size),
             seed=np.array(seeds, np.int64))
    os.replace(tmp, path)
    return path


def generate(spec: RegridSpec, scenes: int, *, workers: int = 1,
             cache: Path | None = None) -> list[Path]:
    """Make (or find) the shards of ``scenes`` scenes; returns their paths."""
    folder = spec.cache_dir(cache)
    folder.mkdir(parents=True, exist_ok=True)
    meta = read_metadata(spec.teacher)
    if meta.height_map is None or not meta.scaling.angle_bins:
        raise ValueError(f"{spec.teacher.name} is not a height-map model with angle bins")
    spec.student.validate()
    from grasp_seg_ros.sim.seeds import check_dataset_seeds

    shards = [(folder / f"shard_{k:05d}.npz", FIRST_SEED + k * SHARD_SCENES)
              for k in range(int(np.ceil(scenes / SHARD_SCENES)))]
    check_dataset_seeds(FIRST_SEED, len(shards) * SHARD_SCENES)   # never a judged scene
    todo = [(p, first, SHARD_SCENES, str(spec.teacher), spec.student.to_dict())
            for p, first in shards if not p.is_file()]
    LOG.info("%d of %d shards in %s; making %d", len(shards) - len(todo), len(shards), folder,
             len(todo))
    if todo:
        ctx = multiprocessing.get_context("spawn")
        with ctx.Pool(workers) as pool:
            for _ in tqdm(pool.imap_unordered(_make_shard, todo), total=len(todo),
                          desc="regrid shards"):
                pass
    return [p for p, _ in shards]


def regrid_losses(pred: torch.Tensor, target: torch.Tensor, *, bins: int,
                  spatial_weight: float = 0.0,
                  unrated_weight: float = UNRATED_WEIGHT) -> dict[str, torch.Tensor]:
    """(N, B + 1, H, W) student output against the resampled teacher output (module
    docstring). ``spatial_weight`` > 0 adds a term over the whole map: the softmax over cells
    of each cell's best direction (smoothed over 5 x 5 cells, as the decoder smooths before
    it picks a peak; temperature SPATIAL_TEMPERATURE) against the teacher's, so that where the
    teacher's best spot is, among several objects, carries over and not only each cell's
    value."""
    q_t = target[:, :bins]
    rated = (q_t.amax(dim=1) > RATED).float()
    weight = unrated_weight + rated
    mse = ((pred[:, :bins] - q_t) ** 2).mean(dim=1)
    loss_q = (weight * mse).sum() / weight.sum()
    loss_w = (rated * (pred[:, bins] - target[:, bins]) ** 2).sum() / rated.sum().clamp_min(1.0)
    order = _softmax_kl(q_t / TEMPERATURE, pred[:, :bins] / TEMPERATURE)
    loss_rank = (rated * order).sum() / rated.sum().clamp_min(1.0)
    losses = {"loss_quality_bins": loss_q, "loss_width": loss_w,
              "loss_bin_order": 0.1 * loss_rank}
    if spatial_weight > 0:
        def spot(q: torch.Tensor) -> torch.Tensor:
            best = torch.nn.functional.avg_pool2d(q, 5, stride=1, padding=2).amax(dim=1)
            return best.flatten(1) / SPATIAL_TEMPERATURE

        losses["loss_best_spot"] = spatial_weight * _softmax_kl(spot(q_t),
                                                                spot(pred[:, :bins])).mean()
    return losses


def _softmax_kl(target_logits: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """KL divergence of softmax(logits) from softmax(target_logits) along dim 1 (the
    cross-entropy less the target's entropy: 0 when the two agree)."""
    target = torch.softmax(target_logits, dim=1)
    return (target * (torch.log_softmax(target_logits, dim=1)
                      - torch.log_softmax(logits, dim=1))).sum(dim=1)


def rated_cells(student_best: np.ndarray, teacher_best: np.ndarray,
                threshold: float = RATED) -> dict[str, float]:
    """Where a student's ratings sit against the teacher's at the decoder's threshold: the
    fraction of cells each rates above ``threshold`` (each cell's best direction, arrays of
    any shape), and the threshold above which the student rates as many cells as the teacher
    does above ``threshold`` (their quantile). A student a few hundredths high where the
    teacher is unsure turns rated-nowhere table into candidates; the matched threshold says
    by how much."""
    teacher = float(np.mean(teacher_best > threshold))
    return {"teacher": teacher, "student": float(np.mean(student_best > threshold)),
            "matched_threshold": float(np.quantile(student_best, 1.0 - teacher))}


def load_shards(paths: list[Path]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The shards' (height maps, targets, seeds), each filled into one array as the shards
    are read (the targets of a few thousand scenes are gigabytes: never held twice)."""
    counts = []
    for p in paths:
        with np.load(p) as d:
            counts.append(len(d["seed"]))
    with np.load(paths[0]) as d:
        first = {k: d[k] for k in ("height_m", "target", "seed")}
    out = {k: np.empty((sum(counts), *v.shape[1:]), v.dtype) for k, v in first.items()}
    at = 0
    for p, n in zip(paths, counts):
        with np.load(p) as d:
            for k, arr in out.items():
                arr[at:at + n] = d[k]
        at += n
    return out["height_m"], out["target"], out["seed"]


def train(spec: RegridSpec, shards: list[Path], out: Path, *, epochs: int, batch: int = 16,
          lr: float = 5e-4, threads: int = 2, val_fraction: float = 0.05,
          argv: list[str] | None = None, init: Path | None = None,
          spatial_weight: float = 0.0, unrated_weight: float = UNRATED_WEIGHT) -> Path:
    """Train the student (the teacher's architecture, started from its weights) on the
    shards; checkpoints every epoch in ``out`` and resumes from it. Returns the weight file."""
    torch.set_num_threads(threads)
    model, meta = load_weights(spec.teacher)
    if init is not None:   # continue from an earlier student of the same grid
        model, init_meta = load_weights(init)
        if init_meta.height_map != spec.student:
            raise ValueError(f"{init} is for a {init_meta.height_map} grid, not {spec.student}")
    bins = meta.scaling.angle_bins
    heights, targets, seeds = load_shards(shards)
    val = seeds >= np.quantile(seeds, 1.0 - val_fraction)   # the last scenes, whole
    x_all = torch.from_numpy(meta.normalisation.apply(heights.astype(np.float32)))[:, None]
    y_all = torch.from_numpy(targets)   # float16 in memory (13 maps a sample), float32 per batch
    train_idx, val_idx = np.nonzero(~val)[0], np.nonzero(val)[0]
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    steps = epochs * int(np.ceil(len(train_idx) / batch))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps,
                                                pct_start=0.1)
    out.mkdir(parents=True, exist_ok=True)
    ckpt = out / "checkpoint.pt"
    start, history = 0, []
    if ckpt.is_file():
        start, history = load_checkpoint(ckpt, model=model, optimizer=opt, scheduler=sched)

    def loss_fn(x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
        return regrid_losses(model(x)["out"], y, bins=bins, spatial_weight=spatial_weight,
                             unrated_weight=unrated_weight)

    def evaluate() -> dict[str, float]:
        model.eval()
        sums: dict[str, float] = {}
        with torch.no_grad():
            for i in range(0, len(val_idx), batch):
                b = val_idx[i:i + batch]
                for k, v in loss_fn(x_all[b], y_all[b].float()).items():
                    sums[k] = sums.get(k, 0.0) + float(v) * len(b)
        return {f"val_{k}": v / max(len(val_idx), 1) for k, v in sums.items()}

    def batches(epoch: int):
        order = np.random.default_rng([0, epoch]).permutation(train_idx)
        flips = np.random.default_rng([1, epoch]).random(len(order)) < 0.5
        for k, i in enumerate(range(0, len(order), batch)):
            b = np.sort(order[i:i + batch])
            x, y = x_all[b], y_all[b].float()
            if flips[k]:   # the same scene mirrored: the bins mirror too
                x, y = x.flip(-1), _mirror_bins(y.flip(-1), bins)
            yield x, y

    if start == 0:
        history.append({"epoch": 0, **evaluate()})
        LOG.info("before training: %s", history[-1])
    per_epoch = int(np.ceil(len(train_idx) / batch))
    for epoch in range(start, epochs):
        model.train()
        record = train_epoch(batches(epoch), steps=per_epoch, loss_fn=loss_fn, optimizer=opt,
                             scheduler=sched, desc=f"regrid epoch {epoch + 1}/{epochs}")
        history.append({"epoch": epoch + 1, "seconds": record["seconds"],
                        "loss": record["loss"], **evaluate()})
        LOG.info("epoch %d: %s", epoch + 1, history[-1])
        save_checkpoint(ckpt, model=model, optimizer=opt, scheduler=sched, epoch=epoch + 1,
                        history=history)
    seconds = sum(h.get("seconds", 0.0) for h in history)
    rated = {}
    if len(val_idx):
        model.eval()
        best: tuple[list, list] = ([], [])
        with torch.no_grad():
            for i in range(0, len(val_idx), batch):
                b = val_idx[i:i + batch]
                best[0].append(model(x_all[b])["out"][:, :bins].amax(1).numpy())
                best[1].append(y_all[b][:, :bins].float().amax(1).numpy())
        rated = {k: round(v, 4) for k, v in
                 rated_cells(np.concatenate(best[0]), np.concatenate(best[1])).items()}
        LOG.info("validation cells rated above %g: teacher %.2f%%, student %.2f%%; the "
                 "student rates as many above %.3f", RATED, 100 * rated["teacher"],
                 100 * rated["student"], rated["matched_threshold"])
    from grasp_seg_ros.training.run import git_commit
    s_spec, t_spec = spec.student, meta.height_map
    student_meta = replace(
        meta, input_size_px=s_spec.size_px, height_map=s_spec, metrics={},
        training={
            "command": " ".join(["grasp-seg regrid", *(argv or [])]),
            "method": (f"distilled from {spec.teacher.stem} ({t_spec.size_px} x "
                       f"{t_spec.resolution_m * 1e3:g} mm) onto {s_spec.size_px} x "
                       f"{s_spec.resolution_m * 1e3:g} mm: its output on each rendered view "
                       "resampled onto the student's cells (grasp-seg regrid); started from "
                       "its weights"),
            "init": spec.teacher.stem if init is None else str(init),
            "spatial_weight": spatial_weight, "unrated_weight": unrated_weight,
            "label_gripper": meta.training.get("label_gripper", "unknown"),
            "train_data": f"{len(shards)} shards in {spec.cache_dir()}",
            "training_cameras": describe_views(seeds),
            "train_samples": int(len(train_idx)), "val_samples": int(len(val_idx)),
            "epochs": epochs, "batch_size": batch,
            "optimiser": f"adam lr {lr:g}, one-cycle schedule",
            "augmentation": "mirrored left-right (bins mirrored with it) half the batches",
            "threads": threads, "train_seconds": round(seconds, 1),
            "rated_cells": {"threshold": RATED, **rated},
            "val_loss": {f"epoch {h['epoch']}": {k.removeprefix("val_loss_"): round(v, 6)
                                                 for k, v in h.items() if k.startswith("val_")}
                         for h in history},
            "git_commit": git_commit(),
        },
        description=(f"GG-CNN2 on plane-aligned height maps ({s_spec.size_px} x "
                     f"{s_spec.resolution_m * 1e3:g} mm), {meta.scaling.angle_bins} angle "
                     f"bins: {spec.teacher.stem} distilled onto a coarser grid from its own "
                     "answers (grasp-seg regrid)"))
    return save_weights(out / "model.safetensors", model.eval(), student_meta)


def describe_views(seeds: np.ndarray) -> str:
    """The scenes and cameras of samples (their scene seeds), replayed from the seeds."""
    from grasp_seg_ros.sim.camera import random_camera

    scenes, trays, kinds, heights, tilted = 0, 0, {}, [], 0
    for seed in np.unique(seeds):
        rng = np.random.default_rng([int(seed), 11])
        scenes += 1
        trays += bool(rng.random() < 0.5)
        for _ in range(VIEWS_PER_SCENE):
            camera, _noise = random_camera(rng)
            kinds[camera.name] = kinds.get(camera.name, 0) + 1
            heights.append(camera.height_m)
            tilted += camera.tilt_deg > 0
    return (f"{len(seeds)} views of {scenes} scenes ({trays} trays of 1-8 objects, the rest "
            f"tables; random_urdfs and primitives, training split), two random cameras a "
            f"scene (" + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items()))
            + f"); height {min(heights):.2f}-{max(heights):.2f} m, {tilted} tilted 0-35 deg, "
            "any azimuth")


def _mirror_bins(y: torch.Tensor, bins: int) -> torch.Tensor:
    """Targets of a map mirrored left-right: a direction at angle a is at -a, so bin k
    (centred on -90 + k * 180 / B deg, core.grasp.bin_angles) goes to bin (B - k) mod B."""
    order = [(bins - k) % bins for k in range(bins)]
    return torch.cat([y[:, order], y[:, bins:]], dim=1)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="grasp-seg regrid", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--teacher", default=DEFAULT_MODEL)
    p.add_argument("--size", type=int, required=True, help="student grid, cells per side")
    p.add_argument("--resolution", type=float, required=True, help="student cell size, m")
    p.add_argument("--scenes", type=int, default=3000)
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--init", type=Path,
                   help="start from this student (same grid) instead of the teacher's weights")
    p.add_argument("--spatial-weight", type=float, default=0.0,
                   help="weight of the loss term over the whole map (where the best spot is)")
    p.add_argument("--unrated-weight", type=float, default=UNRATED_WEIGHT,
                   help="per-cell loss weight where the teacher rates no direction above "
                        f"{RATED} (a rated cell: 1 + this); 1 weighs nearly evenly, so that "
                        "near the decoder's quality threshold the student's ratings keep the "
                        "teacher's side of it")
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    spec = RegridSpec(resolve_model(args.teacher), HeightMapSpec(args.size, args.resolution))
    try:
        spec.student.validate()
    except ValueError as exc:
        p.error(str(exc))
    shards = generate(spec, args.scenes, workers=args.workers)
    path = train(spec, shards, args.out, epochs=args.epochs, batch=args.batch, lr=args.lr,
                 threads=args.threads, argv=argv if argv is not None else sys.argv[1:],
                 init=args.init, spatial_weight=args.spatial_weight,
                 unrated_weight=args.unrated_weight)
    LOG.info("wrote %s", path)


if __name__ == "__main__":
    main()
