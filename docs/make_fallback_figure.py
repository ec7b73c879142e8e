"""Draw docs/fallback_spots.png: clutter frames where no quality peak's grasp fits the stroke,
and the grasp the decoder's fallback spots find there.

    python docs/make_fallback_figure.py [--seed 5200000] [--frames 3]

Runs the default model in simulated clutter trials (sim-eval's scenes, Robotiq-like gripper,
camera above) with fallback_spots 0 until that many different views had no grasp, then decodes
each of them again with the node's default. Left of each pair: the peaks' grasps with the openings
measured for them (wider than the stroke); right: the published grasp.
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

from grasp_seg_ros.core.draw import draw_grasps
from grasp_seg_ros.core.errors import NoGraspFound
from grasp_seg_ros.core.grasp import DecodeParams, detect_grasps
from grasp_seg_ros.core.opening import measure_opening
from grasp_seg_ros.inference.decoding import CANDIDATE_FACTOR
from grasp_seg_ros.sim.evaluation import gripper_config, run_sim_eval
from grasp_seg_ros.sim.gripper import gripper_profile
from grasp_seg_ros.sim.probe import make_predictor

LOG = logging.getLogger("make_fallback_figure")
OUT = Path(__file__).with_name("fallback_spots.png")


def labelled(img: np.ndarray, text: str) -> np.ndarray:
    img = cv2.copyMakeBorder(img, 24, 4, 4, 4, cv2.BORDER_CONSTANT, value=(255, 255, 255))
    cv2.putText(img, text, (6, 17), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    return img


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seed", type=int, default=5200000)
    p.add_argument("--frames", type=int, default=3)
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    detector, _ = make_predictor("ggcnn2_heightmap_v2", fallback_spots=0)
    config = gripper_config(detector.config, gripper_profile("robotiq_2f85"))
    frames = []
    detect = detector.detect

    def capturing(depth_m, intrinsics, **kwargs):
        try:
            return detect(depth_m, intrinsics, **kwargs)
        except NoGraspFound as exc:
            # a tray's view does not change until an attempt does: one frame per view
            if "wider opening" in str(exc) and not any(
                    np.mean(np.abs(depth_m - d) > 0.01) < 0.01 for d, _ in frames):
                frames.append((depth_m, intrinsics))
            raise

    detector.detect = capturing
    seed = args.seed
    while len(frames) < args.frames:   # a block of attempts at a time
        run_sim_eval(detector, scenario="clutter", trials=100, seed=seed, progress=False)
        seed += 100
    detector.detect = detect
    fallback = replace(config, decode=replace(config.decode,
                                              fallback_spots=DecodeParams().fallback_spots))
    rows = []
    for depth_m, intrinsics in frames[:args.frames]:
        det = detector.detect(depth_m, intrinsics, config=fallback)
        pre = det.preprocessed
        res = pre.grid.resolution_m
        pool = replace(config.decode, top_k=config.decode.top_k * CANDIDATE_FACTOR)
        peaks = [measure_opening(pre.height_m, g, res, config.opening, pre.hole_mask) or g
                 for g in detect_grasps(det.maps, pool)]
        image = -pre.height_m   # draw_grasps shows near as bright: high above the plane
        best = det.best
        rows.append(np.hstack([
            labelled(draw_grasps(image, peaks), "peaks: " + ", ".join(
                f"{100 * g.width_px * res:.0f}" for g in peaks) + " cm (stroke 8.5)"),
            labelled(draw_grasps(image, [best.grasp_2d]),
                     f"fallback: {100 * best.width_m:.1f} cm, quality {best.quality:.2f}")]))
    cv2.imwrite(str(OUT), np.vstack(rows))
    LOG.info("wrote %s (%d frames)", OUT, len(rows))


if __name__ == "__main__":
    main()
