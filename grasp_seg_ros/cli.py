"""The `grasp-seg` command.

    grasp-seg demo       simulated camera -> grasp_detector -> grasps printed, overlays saved
    grasp-seg detect     run the grasp_detector node (same as the grasp_detector executable)
    grasp-seg sim-camera run the simulated depth camera node
    grasp-seg train      train a network on simulator samples (bootstrap recipe)
    grasp-seg evaluate   rectangle metric of a model on held-out simulated scenes
    grasp-seg bench      per-stage detector latency (median/p95) per torch thread count
    grasp-seg dataset    generate a synthetic Jacquard-format dataset (grasps by trial)
    grasp-seg sim-eval   simulated grasp trials of a model or the no-network baseline
    grasp-seg soak       drive grasp_detector at 30 Hz for a long time: drops, latency, memory
    grasp-seg models     list registered architectures and shipped models
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path


def _demo(args: argparse.Namespace) -> int:
    from grasp_seg_ros.demo import run_demo
    return run_demo(grasps=args.grasps, timeout_s=args.timeout, out_dir=args.out,
                    model=args.model, rate_hz=args.rate, seed=args.seed,
                    overlays=args.overlays)


def _models(_: argparse.Namespace) -> int:
    from grasp_seg_ros.core.resources import resolve_model, shipped_models
    from grasp_seg_ros.nets import list_models
    from grasp_seg_ros.nets.weights import read_metadata
    log = logging.getLogger("grasp_seg_ros")
    log.info("architectures: %s", ", ".join(list_models()))
    for name in shipped_models():
        meta = read_metadata(resolve_model(name))
        log.info("model %s: %s, %s", name, meta.architecture, meta.description)
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    # node subcommands hand everything after them to rclpy (--ros-args ...)
    if argv and argv[0] in ("detect", "sim-camera"):
        if argv[0] == "detect":
            from grasp_seg_ros.ros.detector_node import main as node_main
        else:
            from grasp_seg_ros.ros.sim_camera_node import main as node_main
        return node_main(argv[1:])
    if argv and argv[0] == "train":
        from grasp_seg_ros.training.bootstrap import main as train_main
        train_main(argv[1:])
        return 0
    if argv and argv[0] == "dataset":
        from grasp_seg_ros.sim.dataset import main as dataset_main
        dataset_main(argv[1:])
        return 0
    if argv and argv[0] == "soak":
        from grasp_seg_ros.ros.soak import main as soak_main
        return soak_main(argv[1:])
    if argv and argv[0] == "sim-eval":
        from grasp_seg_ros.sim.evaluation import main as sim_eval_main
        sim_eval_main(argv[1:])
        return 0
    if argv and argv[0] == "bench":
        from grasp_seg_ros.inference.bench import main as bench_main
        bench_main(argv[1:])
        return 0
    if argv and argv[0] == "evaluate":
        from grasp_seg_ros.training.evaluate import main as evaluate_main
        evaluate_main(argv[1:])
        return 0
    parser = argparse.ArgumentParser(prog="grasp-seg", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="run the end-to-end demo")
    demo.add_argument("--grasps", type=int, default=10, help="stop after this many grasps")
    demo.add_argument("--timeout", type=float, default=180.0, help="give up after seconds")
    demo.add_argument("--out", type=Path, default=Path("demo_output"),
                      help="folder for overlay PNGs and node logs")
    demo.add_argument("--overlays", type=int, default=10, help="overlay PNGs to save")
    demo.add_argument("--model", default="ggcnn")
    demo.add_argument("--rate", type=float, default=5.0, help="camera frames per second")
    demo.add_argument("--seed", type=int, default=0, help="first simulated scene")
    demo.set_defaults(func=_demo)
    sub.add_parser("detect", help="run the grasp_detector node [--ros-args ...]")
    sub.add_parser("sim-camera", help="run the simulated depth camera [--ros-args ...]")
    sub.add_parser("train", help="train on simulator samples (see --help)")
    sub.add_parser("evaluate", help="rectangle metric on held-out simulated scenes")
    sub.add_parser("bench", help="per-stage detector latency per thread count")
    sub.add_parser("dataset", help="generate a synthetic Jacquard-format dataset")
    sub.add_parser("sim-eval", help="simulated grasp trials of a model or the baseline")
    sub.add_parser("soak", help="drive grasp_detector at a fixed rate for a long time")
    sub.add_parser("models", help="list architectures and shipped models").set_defaults(
        func=_models)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s",
                        stream=sys.stdout)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
