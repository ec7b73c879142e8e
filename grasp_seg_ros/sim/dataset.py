"""Synthetic Jacquard-format datasets: scenes rendered, grasps verified by gripper trials.

    grasp-seg dataset generate --out DIR --split train --scenes N --seed S [--workers W]

Scene i of a run uses seed S + i. Each scene becomes ``DIR/<split>/<seed>/0_<seed>_*``; the
grasps file is written last, so a scene with one is complete and a rerun skips it (resume).
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from grasp_seg_ros.core.jacquard import (JacquardSample, write_depth, write_grasps,
                                         write_mask)
from grasp_seg_ros.sim.camera import CameraConfig, DepthNoise
from grasp_seg_ros.sim.gripper import Gripper
from grasp_seg_ros.sim.scene import SceneConfig, make_scene
from grasp_seg_ros.sim.trials import LabelConfig, label_objects

LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class GenerateJob:
    out: Path
    seed: int
    scene: SceneConfig
    label: LabelConfig = LabelConfig()
    camera: CameraConfig = CameraConfig()
    noise: DepthNoise = DepthNoise()

    @property
    def sample(self) -> JacquardSample:
        name = f"{self.seed:06d}"
        return JacquardSample(self.out / self.scene.split / name / f"0_{name}")


def generate_scene(job: GenerateJob) -> dict:
    """Render, label and write one scene; returns counts (skips a finished scene)."""
    sample = job.sample
    if sample.path("grasps").is_file():
        return {"seed": job.seed, "skipped": True}
    sample.prefix.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    with make_scene(job.seed, camera=job.camera, config=job.scene) as scene:
        gripper = Gripper(scene.client)
        perfect, seg = scene.render()
        stereo = job.noise.apply(perfect, np.random.default_rng([job.seed, 2]))
        results = label_objects(scene, gripper, perfect, seg,
                                np.random.default_rng([job.seed, 3]), job.label)
        object_ids = {o.body_id for o in scene.objects}
    write_depth(sample.path("perfect"), perfect)
    write_depth(sample.path("stereo"), stereo)
    write_mask(sample.path("mask"), np.isin(seg, list(object_ids)))
    write_grasps(sample.path("grasps"), [r.rectangle for r in results if r.success])
    return {"seed": job.seed, "skipped": False, "trials": len(results),
            "successes": sum(r.success for r in results),
            "seconds": time.perf_counter() - t0}


def generate(out: Path, *, split: str, scenes: int, seed: int, workers: int,
             scene_config: SceneConfig) -> list[dict]:
    jobs = [GenerateJob(out, seed + i, scene_config) for i in range(scenes)]
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(max(1, workers)) as pool:
        results = list(tqdm(pool.imap_unordered(generate_scene, jobs), total=len(jobs),
                            desc=f"{split} scenes"))
    return results


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="grasp-seg dataset", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    g = sub.add_parser("generate", help="render and label scenes in Jacquard's format")
    g.add_argument("--out", type=Path, required=True)
    g.add_argument("--split", choices=("train", "val", "test"), required=True)
    g.add_argument("--scenes", type=int, required=True)
    g.add_argument("--seed", type=int, default=0, help="seed of the first scene")
    g.add_argument("--sources", nargs="+", default=["primitives", "random_urdfs"],
                   choices=("primitives", "random_urdfs", "folder"))
    g.add_argument("--object-dir", type=Path, help="folder of .urdf/.obj for --sources folder")
    g.add_argument("--max-objects", type=int, default=4)
    g.add_argument("--tray", action="store_true")
    g.add_argument("--workers", type=int, default=multiprocessing.cpu_count())
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    config = SceneConfig(num_objects=(1, args.max_objects), sources=tuple(args.sources),
                         split=args.split, object_dir=args.object_dir, tray=args.tray)
    t0 = time.perf_counter()
    results = generate(args.out, split=args.split, scenes=args.scenes, seed=args.seed,
                       workers=args.workers, scene_config=config)
    elapsed = time.perf_counter() - t0
    done = [r for r in results if not r["skipped"]]
    summary = {"split": args.split, "scenes": len(results), "generated": len(done),
               "skipped": len(results) - len(done),
               "trials": sum(r["trials"] for r in done),
               "successful_grasps": sum(r["successes"] for r in done),
               "seconds": round(elapsed, 1),
               "scenes_per_minute": round(60 * len(done) / elapsed, 2) if done else None,
               "seconds_per_trial_per_worker": round(
                   sum(r["seconds"] for r in done) / max(1, sum(r["trials"] for r in done)), 4)}
    LOG.info("dataset: %s", json.dumps(summary))
    (args.out / args.split).mkdir(parents=True, exist_ok=True)
    (args.out / args.split / f"generate_seed{args.seed}.json").write_text(
        json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "summary": summary},
                   indent=2))


if __name__ == "__main__":
    main()
