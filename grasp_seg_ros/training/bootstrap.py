"""Train a network on simulator samples and write its weight file with metadata.

    grasp-seg train-sim --arch ggcnn --scenes 1600 --val-scenes 160 --epochs 5 \
        --out models/ggcnn.safetensors
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from grasp_seg_ros.nets import get_model
from grasp_seg_ros.nets.weights import ModelMetadata, save_weights
from grasp_seg_ros.training.model_card import write_model_card
from grasp_seg_ros.training.run import git_commit
from grasp_seg_ros.training.synthetic import SampleSpec, make_sample
from grasp_seg_ros.training.trainer import TrainConfig, evaluate_loss, train

LOG = logging.getLogger(__name__)
VAL_SEED_OFFSET = 1_000_000  # validation scenes never share a seed with training scenes


def make_samples(seeds: list[int], workers: int) -> tuple[np.ndarray, np.ndarray]:
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        pairs = list(tqdm(pool.imap(make_sample, seeds, chunksize=8), total=len(seeds),
                          desc="rendering scenes"))
    return np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="grasp-seg train-sim", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--arch", default="ggcnn")
    p.add_argument("--scenes", type=int, default=2000)
    p.add_argument("--val-scenes", type=int, default=200)
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    t0 = time.perf_counter()
    x, y = make_samples(list(range(args.scenes)), args.workers)
    vx, vy = make_samples(list(range(VAL_SEED_OFFSET, VAL_SEED_OFFSET + args.val_scenes)),
                          args.workers)
    t_data = time.perf_counter() - t0
    model = get_model(args.arch)
    config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr)
    initial_val = evaluate_loss(model, vx, vy)
    history = train(model, x, y, config, val_inputs=vx, val_targets=vy,
                    checkpoint=args.out.with_suffix(".ckpt"))
    t_total = time.perf_counter() - t0
    spec = SampleSpec()
    meta = ModelMetadata(
        architecture=args.arch, normalisation=spec.normalisation, scaling=spec.scaling,
        training={"data": "simulated primitives (boxes, cylinders, spheres) on a plane, "
                          "geometric mask labels (grasp-seg sim), noisy depth",
                  "train_scenes": args.scenes, "val_scenes": args.val_scenes,
                  "epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr,
                  "optimiser": "adam, cosine schedule", "augmentation": "horizontal flip",
                  "data_seconds": round(t_data, 1), "total_seconds": round(t_total, 1),
                  "git_commit": git_commit(),
                  "command": "grasp-seg train-sim "
                             f"--arch {args.arch} --scenes {args.scenes} "
                             f"--val-scenes {args.val_scenes} --epochs {args.epochs} "
                             f"--out {args.out}"},
        metrics={"val_loss_initial": round(initial_val, 5),
                 "val_loss_final": round(history[-1]["val_loss"], 5)},
        description="bootstrap model trained on simulated primitives with geometric labels")
    save_weights(args.out, model, meta)
    write_model_card(args.out)
    args.out.with_suffix(".ckpt").unlink(missing_ok=True)
    LOG.info("wrote %s in %.0f s (val loss %.4f -> %.4f)", args.out, t_total, initial_val,
             history[-1]["val_loss"])


if __name__ == "__main__":
    main()
