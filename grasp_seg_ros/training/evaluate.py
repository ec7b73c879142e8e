"""Rectangle-metric evaluation of a model.

    grasp-seg evaluate --model ggcnn --dataset data/synthetic/test [--kind synthetic]
        [--depth stereo] [--crop-size 300] [--top-k 1 5]       a dataset (labels from files)
    grasp-seg evaluate --model ggcnn --scenes 200 [--top-k 1]  simulated scenes rendered now

With --dataset, samples go through the training pipeline's deterministic preprocessing (the
node's function) and the node's decoding. With --scenes, scenes are drawn with seeds from
EVAL_SEED_OFFSET on, never used for training, through the node's detector, and ground truth is
the geometric mask labelling of sim.labels (not gripper trials).
"""

from __future__ import annotations

import argparse
import json
import logging
from dataclasses import replace
from pathlib import Path

import numpy as np
from tqdm import tqdm

from grasp_seg_ros.core.errors import NoGraspFound
from grasp_seg_ros.core.metrics import grasp_rectangle, is_correct
from grasp_seg_ros.inference.detector import DetectorConfig, GraspDetector
from grasp_seg_ros.sim.camera import CameraConfig, DepthNoise
from grasp_seg_ros.sim.labels import mask_rectangles
from grasp_seg_ros.sim.scene import make_scene
from grasp_seg_ros.core.resources import DEFAULT_MODEL
from grasp_seg_ros.sim.seeds import first_seed

LOG = logging.getLogger(__name__)
EVAL_SEED_OFFSET = first_seed("evaluate")


def evaluate(detector: GraspDetector, seeds: list[int], *, top_k: int = 1,
             noise: DepthNoise | None = DepthNoise(),
             camera: CameraConfig = CameraConfig()) -> dict:
    """Share of scenes whose best grasp (or any of the top-k) matches a label rectangle."""
    if detector.metadata.height_map is not None:
        raise ValueError(f"{detector.model_path.name} takes height maps: the mask labels here "
                         "are for depth-crop models; evaluate it on a graded dataset "
                         "(--dataset DIR) or with grasp-seg probe / sim-eval")
    config = replace(detector.config, decode=replace(detector.config.decode, top_k=top_k))
    correct, no_grasp = 0, 0
    for seed in tqdm(seeds, desc="evaluating"):
        rng = np.random.default_rng([seed, 1])
        with make_scene(seed, camera=camera) as scene:
            depth_m, seg = scene.render(noise, rng)
            bodies = [o.body_id for o in scene.objects]
        try:
            det = detector.detect(depth_m, camera.intrinsics(), config=config)
        except NoGraspFound:
            no_grasp += 1
            continue
        crop = det.preprocessed.crop
        truth = [crop.rectangle_from_image(r) for body in bodies
                 for r in mask_rectangles(seg == body)]
        if any(is_correct(grasp_rectangle(g.grasp_2d), truth) for g in det.grasps[:top_k]):
            correct += 1
    n = len(seeds)
    return {"scenes": n, "top_k": top_k, "correct": correct, "no_grasp": no_grasp,
            "accuracy": correct / n if n else float("nan"),
            "seeds": f"{seeds[0]}..{seeds[-1]}" if seeds else ""}


def evaluate_dataset(model: str | Path, dataset: Path, *, kind: str = "synthetic",
                     depth: str = "stereo", crop_size_px: int = 300,
                     top_k: tuple[int, ...] = (1, 5), device: str = "cpu") -> dict:
    """Rectangle metric of a weight file on every sample of a dataset folder."""
    from grasp_seg_ros.core.resources import resolve_model
    from grasp_seg_ros.nets.weights import load_weights
    from grasp_seg_ros.training.datasets import GraspDataset, SampleConfig, load_samples
    from grasp_seg_ros.training.metric import rectangle_metric
    path = resolve_model(str(model))
    net, meta = load_weights(path, device=device)
    if meta.height_map is not None:  # graded labels, the node's height map
        from grasp_seg_ros.training.height_maps import (HeightMapConfig, HeightMapDataset,
                                                        graded_samples)
        data = HeightMapDataset(graded_samples(dataset, depth=depth), HeightMapConfig(
            spec=meta.height_map, angle_bins=meta.scaling.angle_bins, scaling=meta.scaling,
            normalisation=meta.normalisation))
        kind = "graded"
    else:
        kwargs = {"depth": depth} if kind != "cornell" else {}
        samples = load_samples(kind, dataset, **kwargs)
        data = GraspDataset(samples, SampleConfig(crop_size_px=crop_size_px,
                                                  normalisation=meta.normalisation,
                                                  scaling=meta.scaling))
    result = rectangle_metric(net, data, top_k=top_k, device=device)
    return {"model": path.name, "dataset": str(dataset), "kind": kind, "depth": depth,
            **result}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="grasp-seg evaluate", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=DEFAULT_MODEL)
    p.add_argument("--dataset", type=Path, help="a dataset folder (else simulated scenes)")
    p.add_argument("--kind", default="synthetic", choices=("synthetic", "jacquard", "cornell"))
    p.add_argument("--depth", default="stereo", choices=("stereo", "perfect"))
    p.add_argument("--crop-size", type=int, default=300)
    p.add_argument("--scenes", type=int, default=200)
    p.add_argument("--top-k", type=int, nargs="+", default=[1])
    p.add_argument("--device", default="cpu")
    p.add_argument("--json", type=Path, help="also write the result here")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    if args.dataset is not None:
        result = evaluate_dataset(args.model, args.dataset, kind=args.kind, depth=args.depth,
                                  crop_size_px=args.crop_size, top_k=tuple(args.top_k),
                                  device=args.device)
    else:
        detector = GraspDetector(args.model, device=args.device, config=DetectorConfig())
        seeds = list(range(EVAL_SEED_OFFSET, EVAL_SEED_OFFSET + args.scenes))
        result = evaluate(detector, seeds, top_k=args.top_k[0])
        result["model"] = str(detector.model_path.name)
    LOG.info("rectangle metric: %s", json.dumps(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
