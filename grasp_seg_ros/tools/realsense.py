"""RealSense tools without ROS.

    grasp-seg realsense list                         connected cameras
    grasp-seg realsense record --out F.db3 --seconds 10 [--serial S] [--width --height --fps]
    grasp-seg realsense synth --out F.db3 --scenes 5 --frames-per-scene 30
                                                     simulated scenes as a recording
    grasp-seg realsense info F.db3                   frames, size, units, intrinsics

The node plays any of these files back: realsense_camera --ros-args -p playback_file:=F.db3
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from grasp_seg_ros.realsense.device import (RealSenseError, SourceConfig, list_devices,
                                            open_source)

LOG = logging.getLogger("grasp_seg_ros.realsense")


def _record(args) -> int:
    config = SourceConfig(serial=args.serial, width=args.width, height=args.height,
                          fps=args.fps, record_file=args.out)
    count = 0
    with open_source(config) as source, tqdm(desc="frames", unit="frame") as bar:
        end = time.monotonic() + args.seconds
        for _ in source.frames():
            count += 1
            bar.update()
            if time.monotonic() >= end:
                break
    LOG.info("recorded %d frames to %s", count, args.out)
    return 0


def _synth(args) -> int:
    from grasp_seg_ros.realsense.recording import write_recording
    from grasp_seg_ros.sim.camera import CameraConfig, DepthNoise
    from grasp_seg_ros.sim.scene import SceneConfig, make_scene

    camera = CameraConfig()
    noise = DepthNoise()
    rng = np.random.default_rng(args.seed)

    def frames():
        for s in tqdm(range(args.scenes), desc="scenes"):
            with make_scene(args.seed + s, camera=camera,
                            config=SceneConfig(num_objects=(1, args.max_objects))) as scene:
                clean, _ = scene.render()
            for _ in range(args.frames_per_scene):
                depth_m = noise.apply(clean, rng)
                yield np.where(np.isfinite(depth_m), np.rint(depth_m * 1000.0), 0).astype(
                    np.uint16)

    n = write_recording(args.out, frames(), camera.intrinsics(), depth_units_m=0.001,
                        fps=args.fps, paced=not args.unpaced)
    LOG.info("wrote %d frames of %d simulated scenes to %s", n, args.scenes, args.out)
    return 0


def _info(args) -> int:
    frames = 0
    first = None
    with open_source(SourceConfig(playback_file=args.file, realtime=False)) as source:
        for frame in source.frames():
            frames += 1
            first = first or frame
    if first is None:
        LOG.error("%s holds no depth frame", args.file)
        return 1
    intr = first.intrinsics
    print(json.dumps({"file": str(args.file), "frames": frames,
                      "size": [intr.pinhole.width, intr.pinhole.height],
                      "depth_units_m": first.depth_units_m,
                      "fx": intr.pinhole.fx, "fy": intr.pinhole.fy,
                      "cx": intr.pinhole.cx, "cy": intr.pinhole.cy,
                      "distortion_model": intr.distortion_model, "d": list(intr.coeffs)},
                     indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="grasp-seg realsense", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="connected cameras")
    r = sub.add_parser("record", help="record a live camera's depth")
    r.add_argument("--out", type=Path, required=True)
    r.add_argument("--seconds", type=float, default=10.0)
    r.add_argument("--serial", default="")
    r.add_argument("--width", type=int, default=640)
    r.add_argument("--height", type=int, default=480)
    r.add_argument("--fps", type=int, default=30)
    s = sub.add_parser("synth", help="record simulated scenes (PyBullet) as a RealSense would")
    s.add_argument("--out", type=Path, required=True)
    s.add_argument("--scenes", type=int, default=5)
    s.add_argument("--frames-per-scene", type=int, default=30)
    s.add_argument("--fps", type=int, default=30)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--max-objects", type=int, default=5)
    s.add_argument("--unpaced", action="store_true",
                   help="write at once (replays in a burst at the recorded rate)")
    i = sub.add_parser("info", help="describe a recording")
    i.add_argument("file", type=Path)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    if args.command == "list":
        print(json.dumps(list_devices(), indent=2))
        return 0
    try:
        return {"record": _record, "synth": _synth, "info": _info}[args.command](args)
    except RealSenseError as exc:
        LOG.error("%s", exc)
        return 1
