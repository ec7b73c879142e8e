"""The grasp_detector node's parameters: one table (default, description, range; declared by
ros.params), and the checks and detector settings made from their values."""

from __future__ import annotations

import numpy as np

from grasp_seg_ros.core.grasp import DecodeParams
from grasp_seg_ros.core.opening import OpeningParams
from grasp_seg_ros.core.preprocess import CropSpec
from grasp_seg_ros.core.resources import DEFAULT_MODEL
from grasp_seg_ros.core.selection import (Clearance, GraspSelection, RigidTransform,
                                          WorkspaceBox)
from grasp_seg_ros.inference.augment import check_augment_name
from grasp_seg_ros.inference.backends import DEVICES, PRECISIONS, check_backend
from grasp_seg_ros.inference.detector import DetectorConfig
from grasp_seg_ros.ros.frames import SOURCES as TARGET_SOURCES
from grasp_seg_ros.ros.params import ParamSpec as _Param

MODES = ("continuous", "on_demand")

PARAMETERS: dict[str, _Param] = {
    "model": _Param(DEFAULT_MODEL, "model name shipped in models/ or a path to a "
                                   ".safetensors file", reloads_model=True),
    "device": _Param("auto", f"compute device, one of {DEVICES}", reloads_model=True),
    "backend": _Param("auto", "network runtime: torch, onnxruntime (CPU, fp32; the network "
                              "exported once to ~/.cache/grasp_seg_ros/onnx) or auto (on "
                              "the CPU, whichever runs the model faster, timed at start-up)",
                      reloads_model=True),
    "precision": _Param("fp32", "network arithmetic: fp32, fp16 (for CUDA; slow on a CPU) or "
                                "bf16 (PyTorch; faster on CPUs with bfloat16 instructions, "
                                "AVX512_BF16 or AMX)", reloads_model=True),
    "allow_cpu_fallback": _Param(False, "run on the CPU when the requested GPU is missing "
                                        "(else start-up fails)", reloads_model=True),
    "num_threads": _Param(1, "torch CPU threads (process-wide); 0 keeps torch's default",
                          (0, 64), reloads_model=True),
    "crop_size": _Param(300, "side of the square cut from the image centre, pixels",
                        (32, 4096)),
    "crop_offset_row": _Param(0, "crop offset from the image centre, rows (+ = down)",
                              (-2048, 2048)),
    "crop_offset_col": _Param(0, "crop offset from the image centre, columns (+ = right)",
                              (-2048, 2048)),
    "depth_scale": _Param(0.0, "metres per depth count; 0 = from the encoding "
                               "(16UC1: 0.001, 32FC1: 1)", (0.0, 10.0)),
    "min_depth_m": _Param(0.05, "depths nearer than this are invalid (holes)", (0.0, 100.0)),
    "max_depth_m": _Param(10.0, "depths further than this are invalid (holes)", (0.01, 1000.0)),
    "min_valid_fraction": _Param(0.05, "skip frames whose crop has less valid depth than this",
                                 (0.0, 1.0)),
    "quality_sigma": _Param(2.0, "Gaussian sigma for the quality map, network pixels",
                            (0.0, 20.0)),
    "angle_sigma": _Param(2.0, "Gaussian sigma for the cos/sin angle maps, network pixels",
                          (0.0, 20.0)),
    "width_sigma": _Param(1.0, "Gaussian sigma for the width map, network pixels", (0.0, 20.0)),
    "quality_threshold": _Param(0.1, "minimum filtered quality of a published grasp",
                                (0.0, 1.0)),
    "top_k": _Param(5, "grasps published on ~/grasps", (1, 100)),
    "peak_min_distance": _Param(10, "minimum distance between top-k grasps, network pixels",
                                (1, 150)),
    "fallback_spots": _Param(80, "measured openings: when no peak's grasp fits the stroke, "
                                 "this many more spots rated above quality_threshold are "
                                 "tried, best first, 8 mm apart; 0 = only the peaks",
                             (0, 10000)),
    "tracking": _Param(False, "closed loop: prefer the peak nearest the previous grasp"),
    "publish_maps": _Param(True, "publish ~/quality_map and ~/overlay (only when subscribed)"),
    "opening": _Param("auto", "the published opening: measured (height-map models: the "
                              "object's extent in the map + opening_clearance_m), model (the "
                              "network's width) or auto (measured where the model allows)"),
    "opening_clearance_m": _Param(0.015, "measured opening: added to the object's extent",
                                  (0.0, 0.2)),
    "max_opening_m": _Param(0.085, "the gripper's stroke: no published opening is wider",
                            (0.005, 1.0)),
    "centre_along_jaws": _Param(True, "measured openings: move each grasp to the middle of the "
                                      "object's extent along the jaws, where the model still "
                                      "rates it (held off its centre, a long object swings out)"),
    "augment": _Param("none", "test-time augmentation: the network also runs on the input "
                              "turned by 180 deg (half_turn), mirrored (mirror), turned by "
                              "each 90 deg (rotations) or both (rotations_mirror), outputs "
                              "averaged; one more forward pass per view (README)"),
    "finger_length_m": _Param(0.04, "finger length of the RViz gripper marker", (0.001, 1.0)),
    "stamp_reset_s": _Param(5.0, "a stamp further back than this is a restart (e.g. a looping "
                                 "bag): accepted, tracking reset; nearer ones are skipped",
                            (0.0, 3600.0)),
    "stats_period_s": _Param(30.0, "log per-stage latency (median/p95) this often; 0 = never",
                             (0.0, 3600.0), read_only=True),
    "mode": _Param("continuous", "continuous: detect on every frame; on_demand: only when "
                                 "~/detect is called (no network work in between)"),
    "request_timeout_s": _Param(2.0, "~/detect waits at most this long for a new frame's result",
                                (0.01, 600.0)),
    "target_frame": _Param("", "express /grasp_pose, ~/grasps and ~/pregrasp in this frame "
                               "(e.g. base_link); empty = the depth image's optical frame"),
    "target_transform": _Param("auto", "the camera-to-target transform: tf (tf2_ros, at each "
                                       "frame's stamp), static (the two parameters below) or "
                                       "auto (tf when tf2_ros is importable, else static)"),
    "static_translation_m": _Param([0.0, 0.0, 0.0], "static transform: the optical frame's "
                                                    "origin in target_frame, metres"),
    "static_rotation_xyzw": _Param([0.0, 0.0, 0.0, 1.0], "static transform: the optical "
                                   "frame's orientation in target_frame, quaternion x y z w"),
    "tf_timeout_s": _Param(0.05, "wait this long for a tf2 transform at a frame's stamp",
                           (0.0, 10.0)),
    "workspace_enabled": _Param(False, "drop grasps outside the box workspace_min_m .. "
                                       "workspace_max_m (before top-k)"),
    "workspace_min_m": _Param([-1.0, -1.0, -1.0], "workspace box minimum x y z, metres, in "
                                                  "target_frame (else the optical frame)"),
    "workspace_max_m": _Param([1.0, 1.0, 3.0], "workspace box maximum x y z, metres"),
    "use_mask": _Param(False, "only grasp where mask/image_raw (mono8 or 16UC1, the depth "
                              "image's size and stamp) holds mask_id"),
    "mask_id": _Param(0, "use_mask: the instance id to grasp; 0 = any non-zero", (0, 65535)),
    "mask_timeout_s": _Param(0.5, "use_mask: wait this long for a depth frame's mask",
                             (0.0, 10.0)),
    "pregrasp_offset_m": _Param(0.1, "~/pregrasp lies this far back along the approach",
                                (0.0, 2.0)),
    "clearance_check": _Param(False, "drop grasps whose finger footprints hold seen surface "
                                     "above the finger reach (README: what it checks)"),
    "finger_thickness_m": _Param(0.01, "clearance: finger size along the closing direction",
                                 (0.001, 0.2)),
    "finger_width_m": _Param(0.02, "finger (pad) size across the closing direction: the "
                                   "clearance test's footprint, the measured opening's strip",
                             (0.001, 0.5)),
    "finger_reach_m": _Param(0.01, "clearance: how far below the grasp point the finger tips "
                                   "go", (0.0, 0.5)),
}


def check_values(values: dict) -> None:
    """Raise ValueError, with the reason, for values that cannot work together."""
    if values["device"] not in DEVICES and not str(values["device"]).startswith("cuda:"):
        raise ValueError(f"device must be one of {DEVICES}, got '{values['device']}'")
    if values["min_depth_m"] >= values["max_depth_m"]:
        raise ValueError(f"min_depth_m ({values['min_depth_m']}) must be below max_depth_m "
                         f"({values['max_depth_m']})")
    check_backend(values["backend"], device=values["device"], precision=values["precision"])
    if values["precision"] not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got "
                         f"'{values['precision']}'")
    if not str(values["model"]).strip():
        raise ValueError("model must name a shipped model or a .safetensors path")
    if values["mode"] not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got '{values['mode']}'")
    if values["target_transform"] not in TARGET_SOURCES:
        raise ValueError(f"target_transform must be one of {TARGET_SOURCES}, got "
                         f"'{values['target_transform']}'")
    try:
        RigidTransform.from_translation_quaternion(values["static_translation_m"],
                                                   values["static_rotation_xyzw"])
    except ValueError as exc:
        raise ValueError(f"static_translation_m / static_rotation_xyzw: {exc}") from None
    opening_params(values).validate()
    check_augment_name(values["augment"])
    try:
        WorkspaceBox(tuple(values["workspace_min_m"]), tuple(values["workspace_max_m"]))
    except ValueError as exc:
        raise ValueError(f"workspace_min_m / workspace_max_m: {exc}") from None


def detector_config(values: dict) -> DetectorConfig:
    """The detector settings the parameters describe."""
    return DetectorConfig(
        crop=CropSpec(crop_size_px=values["crop_size"],
                      offset_row_px=values["crop_offset_row"],
                      offset_col_px=values["crop_offset_col"]),
        decode=DecodeParams(quality_sigma_px=values["quality_sigma"],
                            angle_sigma_px=values["angle_sigma"],
                            width_sigma_px=values["width_sigma"],
                            quality_threshold=values["quality_threshold"],
                            top_k=values["top_k"],
                            peak_min_distance_px=values["peak_min_distance"],
                            fallback_spots=values["fallback_spots"]),
        min_valid_fraction=values["min_valid_fraction"], opening=opening_params(values),
        augment=values["augment"])


def opening_params(values: dict) -> OpeningParams:
    return OpeningParams(mode=values["opening"], clearance_m=values["opening_clearance_m"],
                         max_opening_m=values["max_opening_m"],
                         pad_width_m=values["finger_width_m"],
                         centre_along_jaws=values["centre_along_jaws"])


def grasp_selection(values: dict, mask: np.ndarray | None,
                    to_target: RigidTransform | None) -> GraspSelection | None:
    """The workspace box, object mask and clearance test the parameters ask for (None when
    they ask for none); the box is in the target frame when ``to_target`` is given."""
    workspace = (WorkspaceBox(tuple(values["workspace_min_m"]), tuple(values["workspace_max_m"]))
                 if values["workspace_enabled"] else None)
    clearance = (Clearance(values["finger_thickness_m"], values["finger_width_m"],
                           values["finger_reach_m"]) if values["clearance_check"] else None)
    if workspace is None and mask is None and clearance is None:
        return None
    return GraspSelection(workspace=workspace, to_frame=to_target, mask=mask,
                          clearance=clearance)
