"""Per-stage latency of the detector on simulated 16UC1 frames, per torch thread count.

    grasp-seg bench --model ggcnn --frames 200 --threads 1 2 [--busy-core] [--json out.json]

Stages: convert (16UC1 payload -> metres), preprocess, inference, postprocess; median and p95.
``--busy-core`` keeps one core busy in another process, as a robot computer running other
nodes would, because the best thread count differs with and without such load.
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from grasp_seg_ros.core.depth import depth_from_buffer, depth_to_buffer
from grasp_seg_ros.core.errors import NoGraspFound
from grasp_seg_ros.core.stats import format_summary, summarise
from grasp_seg_ros.inference.detector import GraspDetector
from grasp_seg_ros.sim.camera import CameraConfig, DepthNoise
from grasp_seg_ros.sim.scene import make_scene

LOG = logging.getLogger(__name__)


def _spin(stop: multiprocessing.Event) -> None:
    while not stop.is_set():
        sum(i * i for i in range(10_000))


def frames(n_scenes: int, camera: CameraConfig) -> list[bytes]:
    rng = np.random.default_rng(0)
    payloads = []
    for seed in range(n_scenes):
        with make_scene(3_000_000 + seed, camera=camera) as scene:
            depth, _ = scene.render(DepthNoise(), rng)
        payloads.append(depth_to_buffer(depth, "16UC1")[0])
    return payloads


def bench(model: str, *, threads: int, n_frames: int, payloads: list[bytes],
          camera: CameraConfig, device: str = "cpu", warmup: int = 10) -> dict:
    torch.set_num_threads(threads)
    det = GraspDetector(model, device=device, num_threads=threads)
    intr = camera.intrinsics()
    samples = []
    for i in tqdm(range(warmup + n_frames), desc=f"{threads} thread(s)", leave=False):
        t0 = time.perf_counter()
        depth = depth_from_buffer(payloads[i % len(payloads)], encoding="16UC1",
                                  height=camera.height, width=camera.width,
                                  step=camera.width * 2)
        t1 = time.perf_counter()
        try:
            timings = det.detect(depth, intr).timings_ms
        except NoGraspFound:
            continue
        if i >= warmup:
            sample = {"convert": (t1 - t0) * 1e3, **timings}
            sample["total"] = sum(sample.values())
            samples.append(sample)
    return summarise(samples)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="grasp-seg bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="ggcnn")
    p.add_argument("--frames", type=int, default=200)
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--device", default="cpu")
    p.add_argument("--busy-core", action="store_true",
                   help="keep one core busy in another process while measuring")
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    camera = CameraConfig()
    payloads = frames(20, camera)
    stop = multiprocessing.Event()
    spinner = None
    if args.busy_core:
        spinner = multiprocessing.Process(target=_spin, args=(stop,), daemon=True)
        spinner.start()
    results = {}
    try:
        for threads in args.threads:
            results[str(threads)] = bench(args.model, threads=threads, n_frames=args.frames,
                                          payloads=payloads, camera=camera, device=args.device)
            LOG.info("%s, %d thread(s)%s: %s", args.model, threads,
                     ", one core busy" if args.busy_core else "",
                     format_summary(results[str(threads)]))
    finally:
        stop.set()
        if spinner is not None:
            spinner.join()
    if args.json:
        args.json.write_text(json.dumps({"model": args.model, "busy_core": args.busy_core,
                                         "frames": args.frames, "results": results}, indent=2))


if __name__ == "__main__":
    main()
