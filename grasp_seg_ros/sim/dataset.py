"""Synthetic Jacquard-format datasets: scenes rendered by varied cameras, grasps graded by
gripper trials.

    grasp-seg dataset generate --split train --scenes N [--seed S] [--gripper robotiq_2f85]
        [--out DIR] [--workers W] [--fixed-camera] [--label-trial fast|evaluation]
    grasp-seg dataset calibrate [--scenes 80] [--seed 1900000]   # labels vs the evaluation

Scene i of a run uses seed S + i. Each scene becomes ``DIR/<split>/<seed>/0_<seed>_*``:
perfect and stereo depth, the objects' mask, the graded candidates (failures too) and the
camera (``*_grasps_graded.csv``, ``*_camera.json``: see core.jacquard) and, written last,
Jacquard's grasps file with the candidates whose robustness reaches ``--good`` (default 0.5).
A scene with a grasps file is complete and a rerun skips it, so an interrupted run continues
where it stopped. DIR defaults to ~/.cache/grasp_seg_ros/datasets/<gripper>: data stays out
of the repository.

Every scene has its own camera (sim.camera.random_camera: D435/D405/L515-like intrinsics at
640x480, 848x480 or 1024x768, 0.30-1.0 m above the table, tilted 0-35 deg in 70% of scenes,
each kind with its noise model) unless ``--fixed-camera`` keeps the top-down D435 at 0.55 m.
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation
from tqdm import tqdm

from grasp_seg_ros.core.jacquard import (GradedRectangle, JacquardSample, write_depth,
                                         write_grasps, write_graded, write_mask)
from grasp_seg_ros.core.resources import cache_dir
from grasp_seg_ros.sim import calibration
from grasp_seg_ros.sim.camera import CameraConfig, DepthNoise, random_camera
from grasp_seg_ros.sim.gripper import DEFAULT_GRIPPER, GRIPPERS, Gripper, gripper_profile
from grasp_seg_ros.sim.scene import SceneConfig, make_scene
from grasp_seg_ros.sim.seeds import check_dataset_seeds
from grasp_seg_ros.sim.trials import LABEL_TRIALS, GradeConfig, grade_objects

LOG = logging.getLogger(__name__)
DEFAULT_CACHE = cache_dir("datasets")


@dataclass(frozen=True)
class GenerateJob:
    out: Path
    seed: int
    scene: SceneConfig
    grade: GradeConfig = GradeConfig()
    gripper: str = DEFAULT_GRIPPER
    #: None: a random real camera per scene (seeded); else this camera and noise
    camera: CameraConfig | None = None
    noise: DepthNoise = field(default_factory=DepthNoise)

    @property
    def sample(self) -> JacquardSample:
        name = f"{self.seed:06d}"
        return JacquardSample(self.out / self.scene.split / name / f"0_{name}")

    def camera_and_noise(self) -> tuple[CameraConfig, DepthNoise]:
        if self.camera is not None:
            return self.camera, self.noise
        return random_camera(np.random.default_rng([self.seed, 5]))


def camera_record(camera: CameraConfig, noise: DepthNoise, gripper: str,
                  label_trial: str = "fast") -> dict:
    """What a sample's ``*_camera.json`` holds (with the gripper profile and the kind of
    trial that graded its candidates)."""
    return {"kind": camera.name, "width": camera.width, "height": camera.height,
            "k": [camera.fx, 0.0, camera.cx, 0.0, camera.fy, camera.cy, 0.0, 0.0, 1.0],
            "height_m": camera.height_m, "tilt_deg": camera.tilt_deg,
            "azimuth_deg": camera.azimuth_deg,
            "position_m": [float(v) for v in camera.eye_m],
            "quat_xyzw_world_optical": [float(v) for v in
                                        Rotation.from_matrix(camera.rotation).as_quat()],
            "noise": {k: getattr(noise, k) for k in noise.__dataclass_fields__},
            "gripper": gripper, "label_trial": label_trial}


def generate_scene(job: GenerateJob) -> dict:
    """Render, label and write one scene; returns counts (skips a finished scene)."""
    sample = job.sample
    if sample.path("grasps").is_file():
        return {"seed": job.seed, "skipped": True}
    sample.prefix.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    camera, noise = job.camera_and_noise()
    profile = gripper_profile(job.gripper)
    with make_scene(job.seed, camera=camera, config=job.scene) as scene:
        gripper = Gripper(scene.client, profile.gripper)
        perfect, seg = scene.render()
        stereo = noise.apply(perfect, np.random.default_rng([job.seed, 2]))
        graded = grade_objects(scene, gripper, profile, perfect, seg,
                               np.random.default_rng([job.seed, 3]), job.grade)
        object_ids = {o.body_id for o in scene.objects}
    write_depth(sample.path("perfect"), perfect)
    write_depth(sample.path("stereo"), stereo)
    write_mask(sample.path("mask"), np.isin(seg, list(object_ids)))
    write_graded(sample.path("graded"), [
        GradedRectangle(g.rectangle, g.robustness, g.trials, g.body_id, g.world.width_m)
        for g in graded])
    record = camera_record(camera, noise, job.gripper, job.grade.trial)
    sample.path("camera").write_text(json.dumps(record, indent=1))
    good = [g.rectangle for g in graded if g.robustness >= job.grade.good_robustness]
    write_grasps(sample.path("grasps"), good)
    return {"seed": job.seed, "skipped": False, "candidates": len(graded),
            "trials": sum(g.trials for g in graded),
            "trials_held": sum(round(g.robustness * g.trials) for g in graded),
            "too_wide": sum(g.reason == "too_wide" for g in graded),
            "good": len(good), "camera": camera.name, "tilt_deg": camera.tilt_deg,
            "seconds": time.perf_counter() - t0}


def generate(out: Path, *, split: str, scenes: int, seed: int, workers: int,
             scene_config: SceneConfig, gripper: str = DEFAULT_GRIPPER,
             grade: GradeConfig = GradeConfig(), fixed_camera: bool = False) -> list[dict]:
    camera = CameraConfig() if fixed_camera else None
    jobs = [GenerateJob(out, seed + i, scene_config, grade, gripper, camera)
            for i in range(scenes)]
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(max(1, workers)) as pool:
        results = list(tqdm(pool.imap_unordered(generate_scene, jobs), total=len(jobs),
                            desc=f"{split} scenes ({gripper})"))
    return results


def label_statistics(results: list[dict]) -> dict:
    """Acceptance of a run's candidates and trials (scenes generated in this run only)."""
    done = [r for r in results if not r["skipped"]]
    candidates = sum(r["candidates"] for r in done)
    trials = sum(r["trials"] for r in done)
    return {"generated": len(done), "candidates": candidates, "trials": trials,
            "good": sum(r["good"] for r in done),
            "candidate_acceptance": sum(r["good"] for r in done) / candidates
            if candidates else None,
            "trial_acceptance": sum(r["trials_held"] for r in done) / trials if trials else None,
            "too_wide": sum(r["too_wide"] for r in done)}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="grasp-seg dataset", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    g = sub.add_parser("generate", help="render and label scenes in Jacquard's format")
    g.add_argument("--out", type=Path, help=f"default {DEFAULT_CACHE}/<gripper>")
    g.add_argument("--split", choices=("train", "val", "test"), required=True)
    g.add_argument("--scenes", type=int, required=True)
    g.add_argument("--seed", type=int, default=0, help="seed of the first scene")
    g.add_argument("--gripper", default=DEFAULT_GRIPPER, choices=sorted(GRIPPERS))
    g.add_argument("--sources", nargs="+", default=["primitives", "random_urdfs"],
                   choices=("primitives", "random_urdfs", "folder"))
    g.add_argument("--object-dir", type=Path, help="folder of .urdf/.obj for --sources folder")
    g.add_argument("--max-objects", type=int, default=4)
    g.add_argument("--tray", action="store_true")
    g.add_argument("--fixed-camera", action="store_true",
                   help="the top-down D435 at 0.55 m for every scene (the first datasets')")
    g.add_argument("--angles", type=int, default=GradeConfig.angles)
    g.add_argument("--centres", type=int, default=GradeConfig.centres_per_object)
    g.add_argument("--perturbations", type=int, default=GradeConfig.perturbations)
    g.add_argument("--label-trial", choices=LABEL_TRIALS, default=GradeConfig.trial,
                   help="'fast' (default): trials sped up, shorter lift; 'evaluation': the "
                   "gripper profile's own trial, as sim-eval runs it (about 2.8x the time)")
    g.add_argument("--good", type=float, default=GradeConfig.good_robustness,
                   help="robustness a candidate needs to go into the grasps file")
    g.add_argument("--workers", type=int, default=multiprocessing.cpu_count())
    c = sub.add_parser("calibrate", help="how well each kind of label trial predicts the "
                       "evaluation trial (sim.calibration)")
    calibration.add_arguments(c)
    args = p.parse_args(argv)
    if args.command == "calibrate":
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
        calibration.run(args, c)
        return
    try:
        check_dataset_seeds(args.seed, args.scenes)
    except ValueError as exc:
        p.error(str(exc))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    out = args.out or DEFAULT_CACHE / args.gripper
    config = SceneConfig(num_objects=(1, args.max_objects), sources=tuple(args.sources),
                         split=args.split, object_dir=args.object_dir, tray=args.tray)
    grade = replace(GradeConfig(), angles=args.angles, centres_per_object=args.centres,
                    perturbations=args.perturbations, good_robustness=args.good,
                    trial=args.label_trial)
    t0 = time.perf_counter()
    results = generate(out, split=args.split, scenes=args.scenes, seed=args.seed,
                       workers=args.workers, scene_config=config, gripper=args.gripper,
                       grade=grade, fixed_camera=args.fixed_camera)
    elapsed = time.perf_counter() - t0
    stats = label_statistics(results)
    summary = {"split": args.split, "gripper": args.gripper, "scenes": len(results),
               "skipped": len(results) - stats["generated"], **stats,
               "seconds": round(elapsed, 1), "workers": args.workers,
               "scenes_per_minute": round(60 * stats["generated"] / elapsed, 2)
               if stats["generated"] else None}
    LOG.info("dataset: %s", json.dumps(summary))
    (out / args.split).mkdir(parents=True, exist_ok=True)
    (out / args.split / f"generate_seed{args.seed}.json").write_text(
        json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "summary": summary},
                   indent=2))


if __name__ == "__main__":
    main()
