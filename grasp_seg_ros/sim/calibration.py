"""How well labels predict the evaluation: candidates graded by each kind of label trial,
then executed as ``sim-eval`` executes a published grasp.

    grasp-seg dataset calibrate --scenes 80 --seed 1900000 --workers 2

Each scene (training objects, one per scene unless ``--max-objects``; the top camera of
``sim-eval``) is graded with the first kind of label trial (``sim.trials.grade_objects``);
the same candidates are graded again with every other kind (``sim.trials.regrade``) and
executed ``--eval-trials`` times with the gripper profile's evaluation trial from the same
moment: once as labelled, then moved and turned as ``sim-eval --repeats`` moves a grasp.
Reported per kind of label trial: the evaluation's hold rate by label robustness, and the
correlation of the two over the candidates that were tried: labels that do not predict what
the evaluation lifts can teach a model a ranking the evaluation does not share.
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pybullet
from tqdm import tqdm

from grasp_seg_ros.sim.evaluation import EVAL_CAMERAS, RepeatJitter
from grasp_seg_ros.sim.gripper import DEFAULT_GRIPPER, GRIPPERS, Gripper, gripper_profile
from grasp_seg_ros.sim.scene import SceneConfig, make_scene
from grasp_seg_ros.sim.seeds import check_dataset_seeds
from grasp_seg_ros.sim.trials import LABEL_TRIALS, GradeConfig, grade_objects, regrade

LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class CalibrationJob:
    seed: int
    scene: SceneConfig
    gripper: str = DEFAULT_GRIPPER
    label_trials: tuple[str, ...] = LABEL_TRIALS
    eval_trials: int = 3
    grade: GradeConfig = GradeConfig()


def calibrate_scene(job: CalibrationJob) -> list[dict]:
    """One row per tried candidate: its robustness under each kind of label trial and the
    evaluation trials it held (list of bools, the first as labelled)."""
    profile = gripper_profile(job.gripper)
    jitter = RepeatJitter()
    with make_scene(job.seed, camera=EVAL_CAMERAS["top"], config=job.scene) as scene:
        hand = Gripper(scene.client, profile.gripper)
        perfect, seg = scene.render()
        first, *others = job.label_trials
        graded = {first: grade_objects(scene, hand, profile, perfect, seg,
                                       np.random.default_rng([job.seed, 3]),
                                       replace(job.grade, trial=first))}
        for k, kind in enumerate(others):
            graded[kind] = regrade(scene, hand, profile, graded[first],
                                   np.random.default_rng([job.seed, 4, k]),
                                   replace(job.grade, trial=kind))
        rng = np.random.default_rng([job.seed, 5])
        state = pybullet.saveState(physicsClientId=scene.client)
        rows = []
        try:
            for i, g in enumerate(graded[first]):
                if not g.trials:
                    continue
                held = []
                for t in range(job.eval_trials):
                    pybullet.restoreState(state, physicsClientId=scene.client)
                    w = g.world if t == 0 else jitter.apply(g.world, rng)
                    held.append(hand.execute(w, profile.trial,
                                             table_z_m=scene.table_z_m) == g.body_id)
                rows.append({"seed": job.seed, "width_m": g.world.width_m, "eval": held,
                             **{kind: graded[kind][i].robustness for kind in graded}})
        finally:
            pybullet.restoreState(state, physicsClientId=scene.client)
            pybullet.removeState(state, physicsClientId=scene.client)
    return rows


def summarise(rows: list[dict], label_trials: tuple[str, ...]) -> dict:
    """Per kind of label trial: the evaluation's hold rate at each robustness, and the
    Pearson correlation between robustness and the share of evaluation trials held."""
    held = np.array([np.mean(r["eval"]) for r in rows])
    out = {"candidates": len(rows), "eval_hold_rate": float(held.mean()) if rows else None}
    for kind in label_trials:
        r = np.array([row[kind] for row in rows])
        levels = {}
        for v in np.unique(r):
            m = r == v
            levels[f"{v:.2f}"] = {"candidates": int(m.sum()),
                                  "eval_hold_rate": round(float(held[m].mean()), 3)}
        corr = (float(np.corrcoef(r, held)[0, 1])
                if len(rows) > 1 and r.std() > 0 and held.std() > 0 else None)
        out[kind] = {"by_robustness": levels, "correlation": corr}
    return out


def markdown(summary: dict, label_trials: tuple[str, ...]) -> str:
    lines = ["| label trial | robustness | candidates | evaluation trials held |",
             "| --- | --- | --- | --- |"]
    for kind in label_trials:
        for level, v in summary[kind]["by_robustness"].items():
            lines.append(f"| {kind} | {level} | {v['candidates']} | "
                         f"{100 * v['eval_hold_rate']:.0f}% |")
    corr = ", ".join(f"{k} {summary[k]['correlation']:.2f}" for k in label_trials
                     if summary[k]["correlation"] is not None)
    return "\n".join(lines) + f"\n\ncorrelation with the evaluation: {corr}\n"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--scenes", type=int, default=80)
    p.add_argument("--seed", type=int, default=1_900_000, help="seed of the first scene")
    p.add_argument("--gripper", default=DEFAULT_GRIPPER, choices=sorted(GRIPPERS))
    p.add_argument("--max-objects", type=int, default=1)
    p.add_argument("--tray", action="store_true")
    p.add_argument("--eval-trials", type=int, default=3)
    p.add_argument("--workers", type=int, default=multiprocessing.cpu_count())
    p.add_argument("--out", type=Path, default=Path("runs/label_calibration"))


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> dict:
    """Calibrate, write ``calibration.json`` (rows and summary) and ``calibration.md``
    under ``args.out``; returns the summary."""
    try:
        check_dataset_seeds(args.seed, args.scenes)
        if args.scenes < 1 or args.eval_trials < 1 or args.max_objects < 1:
            raise ValueError("--scenes, --eval-trials and --max-objects must be >= 1")
    except ValueError as exc:
        parser.error(str(exc))
    scene = SceneConfig(num_objects=(1, args.max_objects),
                        sources=("primitives", "random_urdfs"), split="train",
                        tray=args.tray, area_half_m=0.09 if args.tray else 0.06)
    jobs = [CalibrationJob(args.seed + i, scene, args.gripper, eval_trials=args.eval_trials)
            for i in range(args.scenes)]
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(max(1, args.workers)) as pool:
        rows = [row for rs in tqdm(pool.imap(calibrate_scene, jobs), total=len(jobs),
                                   desc="label calibration") for row in rs]
    summary = summarise(rows, LABEL_TRIALS)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "calibration.json").write_text(json.dumps(
        {"args": {k: str(v) for k, v in vars(args).items()}, "summary": summary,
         "rows": rows}, indent=1))
    table = markdown(summary, LABEL_TRIALS)
    (args.out / "calibration.md").write_text(table)
    LOG.info("label calibration (%d candidates):\n%s", len(rows), table)
    return summary
