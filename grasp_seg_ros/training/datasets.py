"""Grasp datasets for training and evaluation: Cornell, Jacquard and our synthetic set.

Every sample is a full depth image (metres, NaN = hole) plus its grasp rectangles in image
pixels. :class:`GraspDataset` turns one into a network input with core.preprocess (the node's
function: crop, resize, inpaint, normalise) and draws the targets (quality, cos 2a, sin 2a,
width) from the rectangles mapped into the crop. Augmentation runs on the full image before
preprocessing, for training only; without it a sample always gives the same tensors.

Splits: ``image`` (a seeded shuffle of samples) or ``object`` (whole objects held out: a
Jacquard object folder, a synthetic scene's split folder, or Cornell's image->object map).
"""

from __future__ import annotations

import logging
import zlib
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from grasp_seg_ros.core.cornell import CornellSample, find_cornell_samples
from grasp_seg_ros.core.grasp import OutputScaling
from grasp_seg_ros.core.jacquard import find_samples, read_depth, read_grasps
from grasp_seg_ros.core.preprocess import (NETWORK_SIZE_PX, CropSpec, InputNormalisation,
                                           preprocess)
from grasp_seg_ros.core.rectangles import GraspRectangle, draw_training_maps
from grasp_seg_ros.training.augmentation import Augmentation, augment_sample

LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class DepthSample:
    """A loadable sample: ``key`` names it, ``group`` is its object (for object-wise splits)."""

    key: str
    group: str
    load: Callable[[], tuple[np.ndarray, list[GraspRectangle]]] = field(
        compare=False, repr=False)


def _load_jacquard(depth_path: Path, grasps_path: Path):
    return read_depth(depth_path), read_grasps(grasps_path)


def _load_cornell(sample: CornellSample):
    return sample.depth_m(), sample.rectangles()


def jacquard_samples(root: Path, *, depth: str = "perfect") -> list[DepthSample]:
    """Jacquard (and our synthetic set, same format): ``<object>/<scene>_<object>_*`` files.

    The group is the object folder; ``depth`` picks ``perfect`` or ``stereo`` depth images.
    """
    if depth not in ("perfect", "stereo"):
        raise ValueError(f"depth must be 'perfect' or 'stereo', got {depth!r}")
    out = []
    for s in find_samples(root):
        load = partial(_load_jacquard, s.path(depth), s.path("grasps"))
        out.append(DepthSample(key=str(s.prefix.relative_to(root)),
                               group=str(s.prefix.parent.relative_to(root)), load=load))
    if not out:
        raise FileNotFoundError(f"no Jacquard-format sample (*_grasps.txt) under {root}")
    return out


def read_object_map(path: Path) -> dict[str, str]:
    """Lines "image object" (e.g. "pcd0100 12"): Cornell image stem -> object id."""
    mapping = {}
    for n, line in enumerate(Path(path).read_text().splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) < 2:
            raise ValueError(f"{path}:{n}: expected 'image object', got {line!r}")
        mapping[Path(parts[0]).stem.removesuffix("r")] = parts[1]
    return mapping


def cornell_samples(root: Path, *, object_map: Path | None = None) -> list[DepthSample]:
    """Cornell images; groups from ``object_map`` when given (else each image is its own)."""
    mapping = read_object_map(object_map) if object_map is not None else {}
    out = []
    for s in find_cornell_samples(root):
        load = partial(_load_cornell, s)
        out.append(DepthSample(key=s.stem, group=mapping.get(s.stem, s.stem), load=load))
    if not out:
        raise FileNotFoundError(f"no Cornell sample (pcd*cpos.txt with pcd*.txt) under {root}")
    return out


def load_samples(kind: str, root: Path, **kwargs) -> list[DepthSample]:
    loaders = {"jacquard": jacquard_samples, "synthetic": jacquard_samples,
               "cornell": cornell_samples}
    if kind not in loaders:
        raise ValueError(f"unknown dataset kind {kind!r}; one of {sorted(loaders)}")
    return loaders[kind](Path(root), **kwargs)


def split_samples(samples: Sequence[DepthSample], *, how: str, test_fraction: float,
                  seed: int = 0) -> tuple[list[DepthSample], list[DepthSample]]:
    """(train, test): ``image`` shuffles samples; ``object`` keeps each group on one side.

    The object split hashes group names (CRC-32 with the seed), so adding samples never moves
    an existing object to the other side.
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    if how == "image":
        order = np.random.default_rng(seed).permutation(len(samples))
        n_test = max(1, int(round(test_fraction * len(samples))))
        test_idx = set(order[:n_test].tolist())
        return ([s for i, s in enumerate(samples) if i not in test_idx],
                [s for i, s in enumerate(samples) if i in test_idx])
    if how == "object":
        def in_test(group: str) -> bool:
            h = zlib.crc32(f"{seed}:{group}".encode()) / 2**32
            return h < test_fraction
        return ([s for s in samples if not in_test(s.group)],
                [s for s in samples if in_test(s.group)])
    raise ValueError(f"split must be 'image' or 'object', got {how!r}")


@dataclass(frozen=True)
class SampleConfig:
    """How a sample becomes tensors: the node's crop and normalisation, the width scaling."""

    crop_size_px: int = 300           # square cut from the image (then resized to output)
    output_size_px: int = NETWORK_SIZE_PX
    centre_on_grasps: bool = False    # centre the crop on the labels (Cornell practice)
    normalisation: InputNormalisation = InputNormalisation()
    scaling: OutputScaling = OutputScaling()


class GraspDataset:
    """Indexable (input (1, S, S), target (4, S, S)) float32 arrays; torch-compatible."""

    def __init__(self, samples: Sequence[DepthSample], config: SampleConfig = SampleConfig(),
                 augmentation: Augmentation | None = None, seed: int = 0) -> None:
        self.samples = list(samples)
        self.config = config
        self.augmentation = augmentation
        self.seed = seed
        self.epoch = 0   # set by the training loop: new augmentations every epoch

    def __len__(self) -> int:
        return len(self.samples)

    def _crop_centre(self, depth: np.ndarray, rects: list[GraspRectangle]) -> tuple[float, float]:
        h, w = depth.shape
        if self.config.centre_on_grasps and rects:
            return (float(np.mean([r.row for r in rects])), float(np.mean([r.col for r in rects])))
        return ((h - 1) / 2.0, (w - 1) / 2.0)

    def example(self, index: int) -> tuple[np.ndarray, np.ndarray, list[GraspRectangle]]:
        """(input, target, rectangles in network pixels) of sample ``index``."""
        depth, rects = self.samples[index].load()
        cfg = self.config
        centre = self._crop_centre(depth, rects)
        crop_size = cfg.crop_size_px
        aug = self.augmentation
        if aug is not None:
            rng = np.random.default_rng([self.seed, self.epoch, index])
            depth, rects, centre, crop_size = augment_sample(depth, rects, centre, crop_size,
                                                             aug, rng)
        spec = self._crop_spec(depth.shape, centre, crop_size)
        pre = preprocess(depth, spec, cfg.normalisation, min_valid_fraction=0.0)
        crop = pre.crop
        net_rects = [crop.rectangle_from_image(r) for r in rects]
        size = crop.output_size_px
        target = draw_training_maps(net_rects, (size, size), cfg.scaling)
        return pre.net_input[None].astype(np.float32), target, net_rects

    def _crop_spec(self, shape, centre, crop_size) -> CropSpec:
        h, w = shape
        crop_size = int(min(crop_size, h, w))
        top = int(round(centre[0] - (crop_size - 1) / 2.0))
        left = int(round(centre[1] - (crop_size - 1) / 2.0))
        top = min(max(top, 0), h - crop_size)
        left = min(max(left, 0), w - crop_size)
        # CropSpec is centre + offset (the node's form)
        return CropSpec(crop_size, top - (h - crop_size) // 2, left - (w - crop_size) // 2,
                        self.config.output_size_px)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray, int]:
        x, y, _ = self.example(index)
        return x, y, index
