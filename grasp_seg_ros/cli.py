"""The `grasp-seg` command.

    grasp-seg demo       simulated camera -> grasp_detector -> grasps printed, overlays saved
    grasp-seg detect     run the grasp_detector node (same as the grasp_detector executable)
    grasp-seg sim-camera run the simulated depth camera node
    grasp-seg train      train a network from a YAML recipe (config/train/*.yaml)
    grasp-seg distill    knowledge distillation: --teacher T.safetensors --student pspnet_r18
    grasp-seg train-sim  train on samples rendered on the fly (the bootstrap recipe)
    grasp-seg regrid     distil a height-map model onto another grid (a cheaper input)
    grasp-seg evaluate   rectangle metric of a model on a dataset or held-out simulated scenes
    grasp-seg bench      per-stage detector latency (median/p95) per torch thread count
    grasp-seg dataset    generate a synthetic Jacquard-format dataset (grasps by trial), or
                         calibrate its label trials against the evaluation
    grasp-seg sim-eval   simulated grasp trials of a model or the no-network baseline
    grasp-seg probe      angle probe: closing-axis error on known objects, many cameras
    grasp-seg soak       drive grasp_detector at 30 Hz for a long time: drops, latency, memory
    grasp-seg realsense-camera  run the realsense_camera node (pyrealsense2)
    grasp-seg realsense  list cameras, record, make recordings of simulated scenes, inspect
    grasp-seg export     export a model to ONNX (with its metadata)
    grasp-seg models     list registered architectures and shipped models
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from pathlib import Path
from grasp_seg_ros.core.resources import DEFAULT_MODEL


def _demo(args: argparse.Namespace) -> int:
    from grasp_seg_ros.tools.demo import run_demo
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


#: subcommands that are a module's own main(argv): name -> (module, help)
DELEGATED: dict[str, tuple[str, str]] = {
    "detect": ("grasp_seg_ros.ros.detector_node", "run the grasp_detector node [--ros-args ...]"),
    "sim-camera": ("grasp_seg_ros.ros.sim_camera_node", "run the simulated depth camera"),
    "train": ("grasp_seg_ros.training.run", "train from a YAML recipe (config/train/)"),
    "distill": ("grasp_seg_ros.training.run",
                "train a student from a frozen teacher: --teacher T --student ARCH --recipe R"),
    "train-sim": ("grasp_seg_ros.training.bootstrap",
                  "train on samples rendered on the fly (bootstrap recipe)"),
    "regrid": ("grasp_seg_ros.training.regrid",
               "distil a height-map model onto another grid: --size N --resolution M --out D"),
    "evaluate": ("grasp_seg_ros.training.evaluate", "rectangle metric on held-out scenes"),
    "ablation": ("grasp_seg_ros.training.ablation",
                 "train and evaluate every model of config/ablation.yaml into one table"),
    "bench": ("grasp_seg_ros.tools.bench", "per-stage detector latency per thread count"),
    "dataset": ("grasp_seg_ros.sim.dataset", "generate a Jacquard-format dataset by trials"),
    "sim-eval": ("grasp_seg_ros.sim.evaluation", "simulated grasp trials of a model"),
    "probe": ("grasp_seg_ros.sim.probe",
              "closing-axis error on objects of known pose, many orientations and cameras"),
    "soak": ("grasp_seg_ros.tools.soak", "drive grasp_detector at a fixed rate for long"),
    "export": ("grasp_seg_ros.inference.onnx_backend", "export a model to ONNX"),
    "realsense-camera": ("grasp_seg_ros.ros.realsense_node",
                         "run the realsense_camera node (pyrealsense2) [--ros-args ...]"),
    "realsense": ("grasp_seg_ros.tools.realsense", "list, record, synthesise, inspect recordings"),
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in DELEGATED:
        # these parse their own arguments (nodes hand theirs to rclpy: --ros-args ...)
        module = DELEGATED[argv[0]][0]
        result = importlib.import_module(module).main(argv[1:])
        return int(result or 0)
    parser = argparse.ArgumentParser(prog="grasp-seg", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="run the end-to-end demo")
    demo.add_argument("--grasps", type=int, default=10, help="stop after this many grasps")
    demo.add_argument("--timeout", type=float, default=180.0, help="give up after seconds")
    demo.add_argument("--out", type=Path, default=Path("demo_output"),
                      help="folder for overlay PNGs and node logs")
    demo.add_argument("--overlays", type=int, default=10, help="overlay PNGs to save")
    demo.add_argument("--model", default=DEFAULT_MODEL)
    demo.add_argument("--rate", type=float, default=5.0, help="camera frames per second")
    demo.add_argument("--seed", type=int, default=0, help="first simulated scene")
    demo.set_defaults(func=_demo)
    for name, (_, help_text) in DELEGATED.items():
        sub.add_parser(name, help=help_text, add_help=False)
    sub.add_parser("models", help="list architectures and shipped models").set_defaults(
        func=_models)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s",
                        stream=sys.stdout)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
