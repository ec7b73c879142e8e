"""Per-stage latency of the detector beside the GG-CNN reference steps, on the same frames.

    grasp-seg bench --model ggcnn --frames 200 --threads 1 2 [--busy-core] [--json out.json]
        [--device cpu|cuda] [--precision fp32|fp16|bf16] [--augment none|half_turn|...]
        [--backend auto|torch|onnxruntime] [--no-reference] [--no-eager] [--blocks 4]
        [--compare MODEL [--compare-precision fp32|fp16|bf16]]

For each thread count, in one process, each frame through every variant in turn (so drifting
machine speed affects them alike), on the same simulated 640x480 16UC1 frames:
- ``pipeline``: this package (nets.fast rewrite, on the runtime ``--backend`` picks, as the
  node's ``backend`` does), stages convert (16UC1 payload -> metres), preprocess, inference,
  postprocess, publish (building and serialising the messages the node publishes; DDS
  transport is not included), and total;
- ``torch``: the same pipeline on PyTorch, when the pipeline runs on another runtime;
- ``eager``: the same pipeline running the network as trained (no rewrite);
- ``compare``: with ``--compare MODEL``, the same pipeline (same runtime choice) on another
  model, e.g. the previous default beside a new one, or on the same model in another
  ``--compare-precision`` (bf16 beside fp32);
- ``reference``: the GG-CNN reference node's steps written plainly (tools/reference.py),
  on the same weights; a height-map model has no depth-crop equivalent, so beside it the
  reference runs the shipped depth-crop GG-CNN2 (``REFERENCE_MODEL``).
Median and p95 in ms, the speed-up of the pipeline over the reference (over all frames, and
per block of consecutive frames: its spread), and the process's resident memory.
``--busy-core`` keeps one core busy in another process, as a robot computer running other
nodes would, because the best thread count differs with and without such load.
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing
import os
import resource
import time
from pathlib import Path

import numpy as np
import psutil
import torch
from tqdm import tqdm

from grasp_seg_ros.core.depth import depth_from_buffer, depth_to_buffer
from grasp_seg_ros.core.errors import NoGraspFound
from grasp_seg_ros.core.resources import DEFAULT_MODEL
from grasp_seg_ros.core.stats import summarise
from grasp_seg_ros.inference.augment import AUGMENTS
from grasp_seg_ros.inference.backends import BACKENDS, PRECISIONS
from grasp_seg_ros.inference.detector import DetectorConfig, GraspDetector
from grasp_seg_ros.tools.reference import ReferencePipeline
from grasp_seg_ros.sim.camera import CameraConfig, DepthNoise
from grasp_seg_ros.sim.scene import make_scene
from grasp_seg_ros.sim.seeds import first_seed

LOG = logging.getLogger(__name__)
STAGES = ("convert", "preprocess", "inference", "postprocess", "publish", "total")
#: the depth-crop weights the reference steps run beside a height-map model
REFERENCE_MODEL = "ggcnn2"


def _spin(stop: multiprocessing.Event) -> None:
    while not stop.is_set():
        sum(i * i for i in range(10_000))


def frames(n_scenes: int, camera: CameraConfig) -> list[bytes]:
    rng = np.random.default_rng(0)
    payloads = []
    for seed in range(n_scenes):
        with make_scene(first_seed("bench") + seed, camera=camera) as scene:
            depth, _ = scene.render(DepthNoise(), rng)
        payloads.append(depth_to_buffer(depth, "16UC1")[0])
    return payloads


class Publisher:
    """Builds and serialises what the node publishes for a detection (no transport)."""

    def __init__(self) -> None:
        from rclpy.serialization import serialize_message
        from std_msgs.msg import Header

        from grasp_seg_ros.ros import conversions as conv
        self._serialize, self._conv = serialize_message, conv
        self._header = Header(frame_id="camera_depth_optical_frame")

    def __call__(self, det) -> None:
        conv, best = self._conv, det.grasps[0]
        for msg in (conv.grasp_to_pose_stamped(best, self._header),
                    conv.grasps_to_pose_array(det.grasps, self._header),
                    conv.grasp_to_vector(best),
                    conv.gripper_markers(best, self._header, finger_length_m=0.05)):
            self._serialize(msg)


def _convert(payload: bytes, camera: CameraConfig) -> np.ndarray:
    return depth_from_buffer(payload, encoding="16UC1", height=camera.height,
                             width=camera.width, step=camera.width * 2)


class PipelineRunner:
    """This package's detector, timed per stage, with the node's message publishing."""

    def __init__(self, det: GraspDetector, camera: CameraConfig) -> None:
        self.det, self.camera, self.intr = det, camera, camera.intrinsics()
        self.publish = Publisher()

    def __call__(self, payload: bytes) -> dict[str, float] | None:
        t0 = time.perf_counter()
        depth = _convert(payload, self.camera)
        t1 = time.perf_counter()
        try:
            result = self.det.detect(depth, self.intr)
        except NoGraspFound:
            return None
        t2 = time.perf_counter()
        self.publish(result)
        t3 = time.perf_counter()
        timings = result.timings_ms
        return {"convert": (t1 - t0) * 1e3,
                **{k: timings[k] for k in ("preprocess", "inference", "postprocess")},
                "publish": (t3 - t2) * 1e3, "total": (t3 - t0) * 1e3}


class ReferenceRunner:
    """The GG-CNN reference steps on the same weights."""

    def __init__(self, det: GraspDetector, camera: CameraConfig) -> None:
        from grasp_seg_ros.core.resources import resolve_model
        from grasp_seg_ros.nets.weights import load_weights
        model, meta = load_weights(det.model_path)
        if meta.height_map is not None or meta.scaling.angle_bins:
            model, meta = load_weights(resolve_model(REFERENCE_MODEL))
            LOG.info("reference: %s is a height-map model; the reference steps run the "
                     "depth-crop %s", det.model_path.name, REFERENCE_MODEL)
        self.ref = ReferencePipeline(model, width_scale_px=meta.scaling.width_scale_px)
        self.camera, self.intr = camera, camera.intrinsics()

    def __call__(self, payload: bytes) -> dict[str, float]:
        t0 = time.perf_counter()
        depth = _convert(payload, self.camera)
        t1 = time.perf_counter()
        stages = self.ref(depth, self.intr)
        t2 = time.perf_counter()
        return {"convert": (t1 - t0) * 1e3, **stages, "total": (t2 - t0) * 1e3}


def bench_interleaved(runners: dict, payloads, n_frames: int, warmup: int,
                      label: str, blocks: int = 1) -> dict[str, dict]:
    """Each frame goes through every runner in turn, so a machine whose speed drifts (a shared
    host) slows all of them alike and their ratio stays fair. The measured frames are also
    summarised in ``blocks`` consecutive blocks (``"blocks"``: per block, each runner's
    median total), which shows how much a number moves within one run."""
    samples: dict[str, list] = {name: [] for name in runners}
    per_block: list[dict[str, list]] = [{name: [] for name in runners} for _ in range(blocks)]
    for i in tqdm(range(warmup + n_frames), desc=label, leave=False):
        payload = payloads[i % len(payloads)]
        for name, run_one in runners.items():
            sample = run_one(payload)
            if sample is not None and i >= warmup:
                samples[name].append(sample)
                per_block[(i - warmup) * blocks // n_frames][name].append(sample["total"])
    out: dict = {name: summarise(rows) for name, rows in samples.items()}
    out["blocks"] = [{name: round(float(np.median(v)), 2) for name, v in block.items() if v}
                     for block in per_block]
    return out


def block_ratios(blocks: list[dict], numerator: str, denominator: str) -> list[float]:
    """Per block, numerator's median total over denominator's (e.g. reference / pipeline)."""
    return [round(b[numerator] / b[denominator], 2) for b in blocks
            if numerator in b and denominator in b and b[denominator] > 0]


def host() -> dict:
    """What the numbers were measured on: this project's machines are virtual and land on
    different processors from one session to the next (an AVX2 AMD EPYC, an AVX-512 Intel
    Xeon), which moves every absolute time by up to 2x."""
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f
                        if line.startswith("model name")), cpu)
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(),
            "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "torch": torch.__version__}


def rss_mb() -> float:
    return psutil.Process().memory_info().rss / 2**20


def run(args) -> dict:
    camera = CameraConfig()
    payloads = frames(20, camera)
    results: dict = {}
    for threads in args.threads:
        torch.set_num_threads(threads)
        config = DetectorConfig(augment=args.augment)
        det = GraspDetector(args.model, device=args.device, num_threads=threads,
                            precision=args.precision, config=config, backend=args.backend)
        runners = {"pipeline": PipelineRunner(det, camera)}
        if det.backend.name != "torch" and det.model_path.suffix != ".onnx":
            runners["torch"] = PipelineRunner(
                GraspDetector(args.model, device=args.device, num_threads=threads,
                              precision=args.precision, config=config, backend="torch"),
                camera)
        if not args.no_eager and det.model_path.suffix != ".onnx":
            runners["eager"] = PipelineRunner(
                GraspDetector(args.model, device=args.device, num_threads=threads,
                              precision=args.precision, optimise=False, config=config), camera)
        if args.compare:
            runners["compare"] = PipelineRunner(
                GraspDetector(args.compare, device=args.device, num_threads=threads,
                              precision=args.compare_precision or args.precision,
                              config=config, backend=args.backend),
                camera)
        if not args.no_reference and det.model_path.suffix != ".onnx" \
                and det.device.type == "cpu":
            runners["reference"] = ReferenceRunner(det, camera)
        row: dict = bench_interleaved(runners, payloads, args.frames, args.warmup,
                                      f"{threads} thread(s)", blocks=args.blocks)
        row["rss_mb_pipeline"] = round(rss_mb(), 1)
        row["pipeline_backend"] = det.backend.name
        if "compare" in runners:
            row["compare_backend"] = runners["compare"].det.backend.name
        if "reference" in row:
            row["speedup_vs_reference"] = round(
                row["reference"]["total"]["median"] / row["pipeline"]["total"]["median"], 2)
            row["speedup_blocks"] = block_ratios(row["blocks"], "reference", "pipeline")
        results[str(threads)] = row
    return results


def format_table(results: dict) -> str:
    lines = ["threads  variant    " + "  ".join(f"{s:>13}" for s in STAGES)]
    for threads, row in results.items():
        for variant in ("pipeline", "torch", "eager", "compare", "reference"):
            if variant not in row:
                continue
            cells = []
            for s in STAGES:
                v = row[variant].get(s)
                cells.append(f"{v['median']:6.1f}/{v['p95']:6.1f}" if v else f"{'-':>13}")
            lines.append(f"{threads:>7}  {variant:<9}  " + "  ".join(cells))
        extra = ""
        if "speedup_vs_reference" in row:
            spread = row.get("speedup_blocks") or []
            extra = f"speed-up vs reference {row['speedup_vs_reference']}x"
            if len(spread) > 1:
                extra += f" (per block {min(spread)}-{max(spread)}x)"
            extra += ", "
        pipeline_blocks = [b["pipeline"] for b in row.get("blocks", []) if "pipeline" in b]
        if len(pipeline_blocks) > 1:
            extra += (f"pipeline total per block {min(pipeline_blocks):.1f}-"
                      f"{max(pipeline_blocks):.1f} ms, ")
        lines.append(f"{'':>7}  {extra}RSS {row['rss_mb_pipeline']} MB, pipeline on "
                     f"{row.get('pipeline_backend', 'torch')}"
                     + (f", compare on {row['compare_backend']}" if "compare_backend" in row
                        else ""))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="grasp-seg bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=DEFAULT_MODEL,
                   help=f"a model name or .safetensors path (default: {DEFAULT_MODEL})")
    p.add_argument("--frames", type=int, default=200)
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--blocks", type=int, default=4,
                   help="also summarise the frames in this many consecutive blocks: the "
                        "per-block medians and speed-ups show the spread within a run")
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--device", default="cpu")
    p.add_argument("--precision", default="fp32", choices=PRECISIONS)
    p.add_argument("--augment", default="none", choices=tuple(AUGMENTS),
                   help="test-time augmentation of the pipeline's network (the node's "
                        "augment); the reference steps run without")
    p.add_argument("--backend", default="auto", choices=BACKENDS,
                   help="the pipeline's runtime (the node's backend; auto: the faster here)")
    p.add_argument("--no-reference", action="store_true", help="skip the reference steps")
    p.add_argument("--no-eager", action="store_true", help="skip the un-rewritten network")
    p.add_argument("--busy-core", action="store_true",
                   help="keep one core busy in another process while measuring")
    p.add_argument("--compare", metavar="MODEL",
                   help="also run the pipeline on this model (name or path), interleaved on "
                        "the same frames")
    p.add_argument("--compare-precision", choices=PRECISIONS,
                   help="the --compare pipeline's precision (default: --precision's), e.g. "
                        "the same model in fp32 beside --precision bf16")
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)
    if args.compare_precision and not args.compare:
        p.error("--compare-precision needs --compare MODEL")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    stop = multiprocessing.Event()
    spinner = None
    if args.busy_core:
        spinner = multiprocessing.Process(target=_spin, args=(stop,), daemon=True)
        spinner.start()
    try:
        results = run(args)
    finally:
        stop.set()
        if spinner is not None:
            spinner.join()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    machine = host()
    LOG.info("%s on %s, %s%s, %d frames, median/p95 ms%s; host %s (%d cores, torch %s "
             "kernels):\n%s\npeak RSS %.0f MB", args.model, args.device, args.precision,
             "" if args.augment == "none" else f", augment {args.augment}", args.frames,
             ", one core busy" if args.busy_core else "", machine["cpu"], machine["cores"],
             machine["torch_cpu_capability"], format_table(results), peak)
    if args.json:
        args.json.write_text(json.dumps(
            {"model": args.model, "device": args.device, "precision": args.precision,
             "augment": args.augment, "backend": args.backend, "compare": args.compare,
             "compare_precision": (args.compare_precision or args.precision
                                   if args.compare else None),
             "host": machine,
             "busy_core": args.busy_core, "frames": args.frames, "peak_rss_mb": round(peak, 1),
             "results": results}, indent=2))


if __name__ == "__main__":
    main()
