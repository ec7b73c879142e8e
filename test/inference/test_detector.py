import numpy as np
import pytest
import torch

from grasp_seg_ros.core.camera import CameraIntrinsics
from grasp_seg_ros.core.errors import (DeviceUnavailable, InvalidCameraInfo, InvalidDepth,
                                       NoGraspFound)
from grasp_seg_ros.core.preprocess import Crop, CropSpec
from grasp_seg_ros.inference.backends import resolve_device
from grasp_seg_ros.inference.detector import DetectorConfig, GraspDetector
from helpers import box_scene, nearest_surface_model

INTR = CameraIntrinsics(fx=385.0, fy=385.0, cx=319.5, cy=239.5, width=640, height=480)


@pytest.fixture
def biased_model(tmp_path):
    return nearest_surface_model(tmp_path / "nearest.safetensors")


def test_detector_finds_the_nearest_region(biased_model):
    det = GraspDetector(biased_model, device="cpu")
    result = det.detect(box_scene(), INTR)
    row, col = result.best.image_px
    assert 200 <= row < 240 and 330 <= col < 360
    assert result.best.position_m[2] == pytest.approx(0.50, abs=0.01)
    assert set(result.timings_ms) == {"preprocess", "inference", "postprocess"}
    assert result.maps.quality.shape == (300, 300)
    assert len(result.grasps) >= 1


def test_detector_rejects_bad_frames(biased_model):
    det = GraspDetector(biased_model, device="cpu")
    with pytest.raises(InvalidCameraInfo):
        det.detect(np.full((240, 320), 0.6, np.float32), INTR)
    with pytest.raises(InvalidDepth):
        det.detect(np.full((480, 640), np.nan, np.float32), INTR)
    small = CameraIntrinsics(fx=200.0, fy=200.0, cx=100.0, cy=80.0, width=200, height=160)
    with pytest.raises(InvalidDepth, match="does not fit"):
        det.detect(np.full((160, 200), 0.6, np.float32), small)


def test_crop_config_is_honoured(biased_model):
    det = GraspDetector(biased_model, device="cpu", config=DetectorConfig(
        crop=CropSpec(crop_size_px=400, offset_row_px=30)))
    result = det.detect(box_scene(), INTR)
    assert result.preprocessed.crop == Crop(top=70, left=120, size_px=400, output_size_px=300)
    row, col = result.best.image_px
    assert 200 <= row < 240 and 330 <= col < 360


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU error")
def test_cuda_without_gpu_is_a_clear_error():
    with pytest.raises(DeviceUnavailable, match="use device:=cpu or device:=auto"):
        resolve_device("cuda")
    assert resolve_device("auto").type == "cpu"


def test_unknown_device_is_rejected():
    with pytest.raises(ValueError, match="device must be one of"):
        resolve_device("tpu")


def test_height_map_grasps_open_to_the_box_and_depth_crop_models_refuse_measuring(
        biased_model, tmp_path):
    from dataclasses import replace

    from grasp_seg_ros.core.opening import OpeningParams
    from helpers import highest_surface_height_map_model
    det = GraspDetector(highest_surface_height_map_model(tmp_path / "hm.safetensors"),
                        device="cpu")
    # the box top (columns 330..359 at 0.5 m) is 30 px x 0.5 / 385 = 3.9 cm along x, the
    # direction the model's 0 deg bin closes in
    box_m = 30 * 0.5 / 385.0
    measured = det.detect(box_scene(), INTR).best
    assert measured.width_m == pytest.approx(box_m + 0.015, abs=0.004)
    model = det.detect(box_scene(), INTR, config=replace(
        det.config, opening=OpeningParams(mode="model"))).best
    assert model.width_m == pytest.approx(0.03, abs=0.002)     # the width head: 15 cells
    # the model's width is capped at the stroke; a measured opening beyond it is no grasp
    capped = det.detect(box_scene(), INTR, config=replace(
        det.config, opening=OpeningParams(mode="model", max_opening_m=0.025,
                                          clearance_m=0.015))).best
    assert capped.width_m == pytest.approx(0.025)
    with pytest.raises(NoGraspFound, match="need a wider opening than max_opening_m"):
        det.detect(box_scene(), INTR, config=replace(
            det.config, opening=OpeningParams(max_opening_m=0.04, clearance_m=0.015)))
    with pytest.raises(ValueError, match="needs a height-map model"):
        GraspDetector(biased_model, device="cpu",
                      config=DetectorConfig(opening=OpeningParams(mode="measured")))


def test_a_spot_too_wide_in_its_best_direction_is_grasped_in_the_next_one_that_fits(tmp_path):
    # a box 10.4 cm along the columns and 3.2 cm along the rows (80 x 25 px at 0.5 m)
    from grasp_seg_ros.core.grasp import bin_angles
    from helpers import highest_surface_height_map_model
    scene = box_scene(box=(200, 225, 300, 380))
    only_along = GraspDetector(highest_surface_height_map_model(tmp_path / "a.safetensors"),
                               device="cpu")
    # its one direction closes along the 10.4 cm side: wider than the 8.5 cm stroke
    with pytest.raises(NoGraspFound, match="need a wider opening than max_opening_m"):
        only_along.detect(scene, INTR)
    # bin 0 (-90 deg) closes along the rows, across the box: rated lower, but it fits
    both = GraspDetector(highest_surface_height_map_model(tmp_path / "b.safetensors",
                                                          second_bin=0), device="cpu")
    det = both.detect(scene, INTR)
    best = det.best
    assert best.width_m == pytest.approx(25 * 0.5 / 385.0 + 0.015, abs=0.004)
    assert abs(np.sin(best.grasp_2d.angle_rad - bin_angles(12)[0])) < 0.1
    peak = det.maps.bins[:, best.grasp_2d.row, best.grasp_2d.col]
    assert best.quality < float(peak.max())   # published with the direction's own quality


def test_test_time_augmentation_runs_every_view_and_keeps_the_grasp():
    """The shipped default on a long box (13 x 3.2 cm, long along the image rows): each mode
    runs one forward pass per view, and every grasp closes across the box, on it."""
    from dataclasses import replace

    from grasp_seg_ros.core.grasp import angle_difference
    det = GraspDetector("ggcnn2_heightmap", device="cpu")
    calls = []
    backend = det.backend
    det.backend = lambda x: calls.append(x.shape) or backend(x)
    scene = box_scene(box=(170, 270, 330, 355))
    for augment, views in (("none", 1), ("half_turn", 2), ("mirror", 2), ("rotations", 4),
                           ("rotations_mirror", 8)):
        calls.clear()
        best = det.detect(scene, INTR, config=replace(det.config, augment=augment)).best
        assert len(calls) == views, augment
        row, col = best.image_px
        assert 170 <= row < 270 and 330 <= col < 355, (augment, best.image_px)
        assert np.degrees(angle_difference(best.angle_rad, 0.0)) < 20, (augment, best.angle_rad)
    with pytest.raises(ValueError, match="augment must be one of"):
        GraspDetector("ggcnn2_heightmap", device="cpu", config=DetectorConfig(augment="spin"))
