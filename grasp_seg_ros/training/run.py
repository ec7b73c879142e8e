"""Train a grasp network from a YAML recipe: one command per run, everything recorded.

    grasp-seg train --recipe config/train/ggcnn_synthetic.yaml [--set train.epochs=5 ...]
    torchrun --nproc_per_node 2 -m grasp_seg_ros.training.run --recipe ...   (several
                                           processes/GPUs/machines: DistributedDataParallel)

The run folder (``out`` in the recipe, or --out) receives: recipe.yaml (the resolved recipe and
the git commit), checkpoint.pt (every epoch; a rerun resumes from it), metrics.csv, TensorBoard
events (when tensorboard is installed), losses.png, predictions/epoch_NNN.png (fixed validation
images), model.safetensors with its metadata and model.md (the model card), metrics.json.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import os
import subprocess
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
import yaml

from grasp_seg_ros.nets import get_model
from grasp_seg_ros.nets.weights import ModelMetadata, save_weights
from grasp_seg_ros.core.grasp import OutputScaling, maps_from_raw
from grasp_seg_ros.training.datasets import (GraspDataset, SampleConfig, load_samples,
                                             split_samples)
from grasp_seg_ros.training.height_maps import HeightMapConfig, HeightMapDataset, graded_samples
from grasp_seg_ros.training.loop import load_checkpoint, save_checkpoint, train_epoch
from grasp_seg_ros.training.losses import Distiller, model_losses, total_loss
from grasp_seg_ros.training.metric import direction_pairs, rectangle_metric
from grasp_seg_ros.training.model_card import write_model_card
from grasp_seg_ros.training.recipe import DataRecipe, Recipe, TrainRecipe, load_recipe

LOG = logging.getLogger("grasp_seg_ros.train")


def git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                              cwd=Path(__file__).parent, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _expand(path: str | None) -> Path | None:
    return Path(os.path.expandvars(os.path.expanduser(path))) if path else None


def height_map_config(recipe: Recipe) -> HeightMapConfig:
    d = recipe.data
    return HeightMapConfig(spec=d.height_map, angle_bins=d.angle_bins,
                           scaling=OutputScaling(d.width_scale_px, d.angle_bins),
                           background_weight=d.background_weight,
                           unlabelled_objects=d.unlabelled_objects,
                           raised_background_weight=d.raised_background_weight)


def _train_roots(d: DataRecipe) -> list[Path]:
    """data.train, then data.extra_train's roots."""
    return [_expand(d.train), *(_expand(r) for r in d.extra_train)]


def _build_height_map_datasets(recipe: Recipe):
    d = recipe.data
    first, *extra = _train_roots(d)
    train = graded_samples(first, depth=d.depth)
    for root in extra:
        # the root's name keeps keys and groups apart from train's (scene folders are numbered
        # alike in every root); train's own keys stay as they are
        train += [replace(s, key=f"{root.name}/{s.key}", group=f"{root.name}/{s.group}")
                  for s in graded_samples(root, depth=d.depth)]
    if d.max_samples:
        train = train[:d.max_samples]
    if d.val:
        val = graded_samples(_expand(d.val), depth=d.depth)
    else:
        train, val = split_samples(train, how=d.split, test_fraction=d.val_fraction,
                                   seed=recipe.train.seed)
    test = graded_samples(_expand(d.test), depth=d.depth) if d.test else None
    config = height_map_config(recipe)
    seed = recipe.train.seed
    return (HeightMapDataset(train, config, recipe.grid_augmentation(), seed=seed),
            HeightMapDataset(val, config),
            HeightMapDataset(test, config) if test is not None else None)


def build_datasets(recipe: Recipe):
    """(train, validation, test or None) datasets of the recipe's input kind."""
    d = recipe.data
    if d.input == "height_map":
        return _build_height_map_datasets(recipe)
    kwargs = {"depth": d.depth} if d.kind != "cornell" else \
        {"object_map": _expand(d.object_map)}
    train = load_samples(d.kind, _expand(d.train), **kwargs)
    if d.max_samples:
        train = train[:d.max_samples]
    if d.val:
        val = load_samples(d.kind, _expand(d.val), **kwargs)
    else:
        train, val = split_samples(train, how=d.split, test_fraction=d.val_fraction,
                                   seed=recipe.train.seed)
    test = load_samples(d.kind, _expand(d.test), **kwargs) if d.test else None
    config = SampleConfig(crop_size_px=d.crop_size_px, centre_on_grasps=d.centre_on_grasps)
    return (GraspDataset(train, config, recipe.augmentation, seed=recipe.train.seed),
            GraspDataset(val, config),
            GraspDataset(test, config) if test is not None else None)


def height_map_training_notes(recipe: Recipe) -> dict:
    """What a height-map model's card must say about its data: the cameras of the training
    scenes, the gripper profile that graded their labels, and the loss options."""
    roots = [r for r in _train_roots(recipe.data) if r is not None]
    kinds: dict[str, int] = {}
    grippers: set[str] = set()
    label_trials: dict[str, int] = {}
    heights, tilts = [], []
    for path in (p for root in roots for p in sorted(root.rglob("*_camera.json"))):
        cam = json.loads(path.read_text())
        kinds[cam.get("kind", "?")] = kinds.get(cam.get("kind", "?"), 0) + 1
        grippers.add(str(cam.get("gripper", "?")))
        # scenes written before the label trial was recorded were graded with the fast one
        trial = str(cam.get("label_trial", "fast"))
        label_trials[trial] = label_trials.get(trial, 0) + 1
        heights.append(float(cam.get("height_m", float("nan"))))
        tilts.append(float(cam.get("tilt_deg", float("nan"))))
    notes = {"rank_weight": recipe.train.rank_weight,
             "rank_temperature": recipe.train.rank_temperature}
    if heights:
        notes["training_cameras"] = (
            f"{len(heights)} scenes, one camera each: "
            + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items()))
            + f"; height {np.nanmin(heights):.2f}-{np.nanmax(heights):.2f} m, tilt "
            f"{np.nanmin(tilts):.0f}-{np.nanmax(tilts):.0f} deg")
        notes["label_gripper"] = ", ".join(sorted(grippers))
        notes["label_trials"] = ", ".join(f"{k} {n}" for k, n in sorted(label_trials.items()))
    return notes


def init_from(model: torch.nn.Module, name: str) -> None:
    """Start from a model file's weights: same architecture and heads, or a clear error."""
    from grasp_seg_ros.core.resources import resolve_model
    from grasp_seg_ros.nets.weights import load_weights
    path = resolve_model(name)
    source, _ = load_weights(path)
    try:
        model.load_state_dict(source.state_dict(), strict=True)
    except RuntimeError as exc:
        raise ValueError(f"model.init {path} does not fit the recipe's model "
                         f"({type(model).__name__}): {exc}") from None
    LOG.info("starting from the weights of %s", path)


def make_optimizer(model: torch.nn.Module, t: TrainRecipe) -> torch.optim.Optimizer:
    if t.optimizer == "adam":
        return torch.optim.Adam(model.parameters(), lr=t.lr, weight_decay=t.weight_decay)
    if t.optimizer == "sgd":
        return torch.optim.SGD(model.parameters(), lr=t.lr, momentum=t.momentum,
                               weight_decay=t.weight_decay)
    raise ValueError(f"optimizer must be adam or sgd, got {t.optimizer!r}")


def describe_optimiser(t: TrainRecipe) -> str:
    """One line for the model card: optimiser, learning rate, schedule, warmup, clipping."""
    text = f"{t.optimizer} lr {t.lr}, {t.schedule} schedule"
    if t.warmup_steps:
        text += f", {t.warmup_steps} warmup steps"
    if t.grad_clip:
        text += f", gradient norm clipped at {t.grad_clip}"
    return text


def make_schedule(opt, t: TrainRecipe, total_steps: int):
    """The recipe's cosine or poly decay over total_steps; with train.warmup_steps > 0 the
    learning rate first rises linearly from 1/warmup_steps of its value (a deep trunk trained
    from scratch at SGD's lr 0.01 can diverge in its first steps), then decays over the rest."""
    warmup = int(t.warmup_steps or 0)
    if warmup < 0 or (warmup and warmup >= total_steps):
        raise ValueError(f"train.warmup_steps must be in [0, {total_steps}) (the run's steps), "
                         f"got {warmup}")
    decay_steps = max(1, total_steps - warmup)
    if t.schedule == "cosine":
        decay = torch.optim.lr_scheduler.CosineAnnealingLR(opt, decay_steps)
    elif t.schedule == "poly":
        decay = torch.optim.lr_scheduler.PolynomialLR(opt, total_iters=decay_steps,
                                                      power=t.poly_power)
    else:
        raise ValueError(f"schedule must be cosine or poly, got {t.schedule!r}")
    if not warmup:
        return decay
    rise = torch.optim.lr_scheduler.LinearLR(opt, start_factor=1.0 / warmup, end_factor=1.0,
                                             total_iters=warmup)
    return torch.optim.lr_scheduler.SequentialLR(opt, [rise, decay], milestones=[warmup])


class Distributed:
    """torchrun's environment (RANK, WORLD_SIZE, LOCAL_RANK) or a single process."""

    def __init__(self) -> None:
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        self.enabled = self.world > 1
        if torch.cuda.is_available():
            self.device = torch.device("cuda", self.local_rank)
            torch.cuda.set_device(self.device)
        else:
            self.device = torch.device("cpu")
        if self.enabled:
            dist.init_process_group("nccl" if self.device.type == "cuda" else "gloo")

    @property
    def main(self) -> bool:
        return self.rank == 0

    def mean(self, values: dict[str, float]) -> dict[str, float]:
        if not self.enabled:
            return values
        keys = sorted(values)
        t = torch.tensor([values[k] for k in keys], dtype=torch.float64)
        dist.all_reduce(t)
        return {k: float(v) / self.world for k, v in zip(keys, t)}

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()

    def close(self) -> None:
        if self.enabled:
            dist.destroy_process_group()


def plot_losses(history: list[dict], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    epochs = [h["epoch"] for h in history]
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
    a.plot(epochs, [h["loss"] for h in history], "o-", label="train")
    a.plot(epochs, [h["val_loss"] for h in history], "s-", label="validation")
    a.set_xlabel("epoch")
    a.set_ylabel("loss (sum of map MSEs)")
    a.legend()
    a.grid(alpha=0.3)
    for key in sorted(k for k in history[-1] if k.startswith("val_top") and
                      k.endswith("accuracy")):
        b.plot(epochs, [100 * h[key] for h in history], "o-", label=key[4:])
    b.set_xlabel("epoch")
    b.set_ylabel("rectangle metric on validation (%)")
    b.set_ylim(0, 100)
    b.legend()
    b.grid(alpha=0.3)
    from matplotlib.ticker import MaxNLocator
    for ax in (a, b):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


@torch.no_grad()
def plot_predictions(model, dataset: GraspDataset | HeightMapDataset, indices: list[int],
                     path: Path, device) -> None:
    """Rows: fixed validation images; columns: input, target quality, predicted quality and
    angle, with the best predicted grasp (red) and the labels (green) drawn on the input."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from grasp_seg_ros.core.grasp import DecodeParams
    from grasp_seg_ros.core.metrics import grasp_rectangle
    from grasp_seg_ros.training.metric import predict_grasps
    model.eval()
    fig, axes = plt.subplots(len(indices), 4, figsize=(12, 3 * len(indices)), squeeze=False)
    for row, idx in enumerate(indices):
        x, y, rects = dataset.example(idx)
        raw = model(torch.from_numpy(x[None]).to(device))["out"][0].float().cpu().numpy()
        ax = axes[row]
        ax[0].imshow(x[0], cmap="gray_r")
        for r in rects[:20]:
            c = r.corners()
            ax[0].plot(*np.vstack([c, c[:1]])[:, ::-1].T, "g-", lw=0.6)
        for g in predict_grasps(raw, dataset, 1):
            c = grasp_rectangle(g).corners()
            ax[0].plot(*np.vstack([c, c[:1]])[:, ::-1].T, "r-", lw=1.5)
        bins = dataset.config.scaling.angle_bins
        maps = maps_from_raw(raw, dataset.config.scaling,
                             DecodeParams(quality_sigma_px=0, angle_sigma_px=0))
        ax[1].imshow(y[:bins].max(0) if bins else y[0], vmin=0, vmax=1, cmap="viridis")
        ax[2].imshow(maps.quality, vmin=0, vmax=1, cmap="viridis")
        ax[3].imshow(maps.angle_rad, vmin=-np.pi / 2, vmax=np.pi / 2, cmap="hsv")
        for a, title in zip(ax, ("input + labels (green), best grasp (red)", "target quality",
                                 "predicted quality", "predicted angle")):
            a.set_title(title if row == 0 else "", fontsize=9)
            a.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


@dataclass(frozen=True)
class RunSource:
    """Where a run's recipe came from: the command that reproduces it is built from this."""

    recipe_path: str = "<defaults>"
    sets: tuple[str, ...] = ()

    def command(self) -> str:
        return " ".join([f"grasp-seg train --recipe {self.recipe_path}",
                         *(f"--set {item}" for item in self.sets)])


def train(recipe: Recipe, out: Path, source: RunSource = RunSource()) -> dict:
    ddp = Distributed()
    t = recipe.train
    if t.threads:
        torch.set_num_threads(int(t.threads))
    torch.manual_seed(t.seed)
    train_set, val_set, test_set = build_datasets(recipe)
    model = get_model(recipe.model.arch, **recipe.model_kwargs()).to(ddp.device)
    if recipe.model.init and not (out / "checkpoint.pt").is_file():
        init_from(model, str(recipe.model.init))
    net = model
    if ddp.enabled:
        net = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[ddp.local_rank] if ddp.device.type == "cuda" else None)
    sampler = torch.utils.data.DistributedSampler(
        train_set, num_replicas=ddp.world, rank=ddp.rank, shuffle=True, seed=t.seed,
        drop_last=True) if ddp.enabled else None
    loader = torch.utils.data.DataLoader(
        train_set, batch_size=t.batch_size, shuffle=sampler is None, sampler=sampler,
        num_workers=t.num_workers, drop_last=True,
        generator=torch.Generator().manual_seed(t.seed) if sampler is None else None,
        pin_memory=ddp.device.type == "cuda", persistent_workers=False)
    steps = len(loader)
    if t.max_steps_per_epoch:
        steps = min(steps, int(t.max_steps_per_epoch))
    if steps == 0:
        raise ValueError(f"{len(train_set)} training samples make no batch of "
                         f"{t.batch_size} (per process)")
    distiller = None
    if recipe.distill.teacher:
        from grasp_seg_ros.core.resources import resolve_model
        from grasp_seg_ros.nets.weights import load_weights
        teacher, _ = load_weights(resolve_model(str(recipe.distill.teacher)),
                                  device=ddp.device)
        d = recipe.distill
        distiller = Distiller(teacher, kd_weight=d.kd_weight, gt_weight=d.gt_weight,
                              aux_weight=t.aux_weight, feature_weight=d.feature_weight,
                              student=model, feature_layer=d.feature_layer,
                              binned=t.binned_options())
    opt = make_optimizer(model, t)
    if distiller is not None and distiller.trainable:
        opt.add_param_group({"params": distiller.trainable})
    sched = make_schedule(opt, t, t.epochs * steps)
    out.mkdir(parents=True, exist_ok=True)
    ckpt = out / "checkpoint.pt"
    extra = ({"adapter": distiller.adapter}
             if distiller is not None and distiller.adapter is not None else {})
    history: list[dict] = []
    start_epoch = 0
    if ckpt.is_file():
        start_epoch, history = load_checkpoint(ckpt, model=model, optimizer=opt,
                                               scheduler=sched, extra=extra,
                                               map_location=ddp.device)
    writer = None
    if ddp.main:
        (out / "recipe.yaml").write_text(yaml.safe_dump(
            {**recipe.to_dict(), "git_commit": git_commit(), "world_size": ddp.world},
            sort_keys=False))
        try:
            from torch.utils.tensorboard import SummaryWriter
            writer = SummaryWriter(str(out / "tensorboard"))
        except ImportError:
            LOG.info("tensorboard is not installed: CSV and PNG logs only")
        (out / "predictions").mkdir(exist_ok=True)
        LOG.info("training %s on %d samples (%d validation), %d steps/epoch x %d epochs, "
                 "%d process(es)", recipe.model.arch, len(train_set), len(val_set),
                 steps, t.epochs, ddp.world)
    plot_idx = list(range(min(recipe.eval.plot_images, len(val_set))))
    t_start = time.perf_counter()

    def batches():
        for x, y, _ in loader:
            yield x.to(ddp.device, non_blocking=True), y.to(ddp.device, non_blocking=True)

    def loss_fn(x, y):
        outputs = net(x)
        return distiller.losses(outputs, x, y) if distiller is not None \
            else model_losses(outputs, y, aux_weight=t.aux_weight, **t.binned_options())

    for epoch in range(start_epoch, t.epochs):
        net.train()
        train_set.epoch = epoch
        if sampler is not None:
            sampler.set_epoch(epoch)
        if sampler is None:
            loader.generator.manual_seed(t.seed * 1000 + epoch)
        record = train_epoch(batches(), steps=steps, loss_fn=loss_fn, optimizer=opt,
                             scheduler=sched, grad_clip=t.grad_clip,
                             desc=f"epoch {epoch + 1}/{t.epochs}", show=ddp.main)
        seconds = record.pop("seconds")
        record = ddp.mean(record)
        record["epoch"] = epoch + 1
        record["lr"] = opt.param_groups[0]["lr"]
        record["seconds"] = seconds
        if ddp.main:
            record.update(validation_loss(model, val_set, ddp.device,
                                          binned=t.binned_options()))
            metric = rectangle_metric(model, val_set, top_k=tuple(recipe.eval.top_k),
                                      device=ddp.device)
            record.update({f"val_{k}": v for k, v in metric.items() if "accuracy" in k})
            history.append(record)
            LOG.info("epoch %d: %s", epoch + 1, ", ".join(
                f"{k}={v:.4f}" for k, v in record.items() if k != "epoch"))
            write_csv(out / "metrics.csv", history)
            if writer is not None:
                for k, v in record.items():
                    if k != "epoch":
                        writer.add_scalar(k, v, epoch + 1)
                writer.flush()
            plot_losses(history, out / "losses.png")
            plot_predictions(model, val_set, plot_idx,
                             out / "predictions" / f"epoch_{epoch + 1:03d}.png", ddp.device)
            save_checkpoint(ckpt, model=model, optimizer=opt, scheduler=sched,
                            epoch=epoch + 1, history=history, extra=extra)
        ddp.barrier()
    result = {}
    if ddp.main:
        result = finish(recipe, out, model, history, test_set, ddp,
                        time.perf_counter() - t_start, len(train_set), len(val_set), source)
    ddp.barrier()
    ddp.close()
    return result


@torch.no_grad()
def validation_loss(model, dataset: GraspDataset, device, batch_size: int = 8,
                    binned: dict | None = None) -> dict[str, float]:
    """The validation set's loss (``val_loss``); for binned heads also the share of a cell's
    direction pairs ordered right (``val_direction_pairs``, metric.direction_pairs)."""
    model.eval()
    total, n, right, pairs = 0.0, 0, 0, 0
    for start in range(0, len(dataset), batch_size):
        batch = [dataset.example(i) for i in range(start, min(len(dataset), start + batch_size))]
        x = torch.from_numpy(np.stack([b[0] for b in batch])).to(device)
        y = torch.from_numpy(np.stack([b[1] for b in batch])).to(device)
        out = model(x)
        total += float(total_loss(model_losses(out, y, aux_weight=0.0,
                                               **(binned or {})))) * len(batch)
        n += len(batch)
        if y.shape[1] == 2 * out["out"].shape[1]:
            r, p = direction_pairs(out["out"], y)
            right, pairs = right + r, pairs + p
    result = {"val_loss": total / max(n, 1)}
    if pairs:
        result["val_direction_pairs"] = right / pairs
    return result


def write_csv(path: Path, history: list[dict]) -> None:
    keys = list(dict.fromkeys(k for h in history for k in h))
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=keys)
        w.writeheader()
        w.writerows(history)


def finish(recipe, out, model, history, test_set, ddp, seconds, n_train, n_val,
           source: RunSource) -> dict:
    metrics: dict[str, Any] = {}
    if history:
        last = history[-1]
        metrics.update({k: round(v, 5) for k, v in last.items()
                        if k.startswith("val_") and isinstance(v, float)})
    if test_set is not None:
        test = rectangle_metric(model, test_set, top_k=tuple(recipe.eval.top_k),
                                device=ddp.device)
        metrics["test"] = {k: (round(v, 4) if isinstance(v, float) else v)
                           for k, v in test.items()}
        metrics["test"]["data"] = recipe.data.test
    height_map = None
    if recipe.data.input == "height_map":
        sample_cfg = height_map_config(recipe)
        height_map = sample_cfg.spec
    else:
        sample_cfg = test_set.config if test_set is not None else SampleConfig()
    command = source.command()
    arch_kwargs = {k: v for k, v in recipe.model_kwargs().items() if k != "trunk_weights"}
    training_extra = {}
    if recipe.distill.teacher:
        d = recipe.distill
        training_extra = {"distilled_from": str(d.teacher), "kd_weight": d.kd_weight,
                          "gt_weight": d.gt_weight}
        if d.feature_weight > 0:
            training_extra.update(feature_weight=d.feature_weight,
                                  feature_layer=d.feature_layer)
    if recipe.model.init:
        training_extra["init"] = str(recipe.model.init)
    if recipe.model.kwargs.get("trunk_weights"):
        training_extra["trunk_init"] = str(recipe.model.kwargs["trunk_weights"])
    augmentation = "none" if recipe.augmentation is None else \
        ", ".join(f"{k}={v}" for k, v in asdict(recipe.augmentation).items())
    if height_map is not None:
        training_extra.update(height_map_training_notes(recipe))
        a = recipe.grid_augmentation()
        if a is not None:
            augmentation = (f"grid turned +-{a.rotation_deg} deg about the plane "
                            f"normal, mirrored={a.mirror}, shifted up to "
                            f"{a.max_shift_px} cells; rendered again (no warping)")
    meta = ModelMetadata(
        architecture=recipe.model.arch, arch_kwargs=arch_kwargs,
        normalisation=sample_cfg.normalisation, scaling=sample_cfg.scaling,
        training={"recipe": recipe.name, "data_kind": recipe.data.kind,
                  "train_data": ", ".join([recipe.data.train, *recipe.data.extra_train]),
                  "depth": recipe.data.depth,
                  "train_samples": n_train, "val_samples": n_val,
                  "epochs": len(history), "batch_size": recipe.train.batch_size,
                  "optimiser": describe_optimiser(recipe.train),
                  "augmentation": augmentation,
                  "processes": ddp.world, "device": str(ddp.device),
                  "train_seconds": round(seconds, 1), "git_commit": git_commit(),
                  "aux_weight": recipe.train.aux_weight, **training_extra,
                  "command": command},
        metrics=metrics, description=recipe.description or recipe.name,
        height_map=height_map,
        **({} if height_map is None else {"input_size_px": height_map.size_px}))
    weights = save_weights(out / "model.safetensors", model.cpu(), meta)
    write_model_card(weights)
    (out / "metrics.json").write_text(json.dumps({"history": history, "final": metrics},
                                                 indent=2, default=float))
    LOG.info("wrote %s (%s)", weights, json.dumps(metrics, default=float))
    return metrics


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="grasp-seg train", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--recipe", type=Path, help="YAML recipe (config/train/*.yaml)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a recipe value, e.g. train.epochs=3 (repeatable)")
    p.add_argument("--out", type=Path, help="run folder (default: the recipe's out)")
    p.add_argument("--teacher", help="distil from this weight file (sets distill.teacher)")
    p.add_argument("--student", help="student architecture (sets model.arch)")
    args = p.parse_args(argv)
    if args.teacher:
        args.set.append(f"distill.teacher={args.teacher}")
    if args.student:
        args.set.append(f"model.arch={args.student}")
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(name)s[%(process)d]: %(message)s")
    recipe = load_recipe(args.recipe, args.set)
    out = args.out or _expand(recipe.out)
    train(recipe, out, RunSource(str(args.recipe) if args.recipe else "<defaults>",
                                 tuple(args.set)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
