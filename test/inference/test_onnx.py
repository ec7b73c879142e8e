"""ONNX export and the ONNX Runtime backend agree with PyTorch."""

import numpy as np
import pytest

from grasp_seg_ros.core.errors import ModelFileError
from grasp_seg_ros.core.preprocess import CropSpec, preprocess
from grasp_seg_ros.core.resources import shipped_models
from grasp_seg_ros.inference.backends import TorchBackend
from grasp_seg_ros.inference.detector import GraspDetector
from grasp_seg_ros.inference.onnx_backend import OnnxBackend, export_onnx
from grasp_seg_ros.nets.weights import load_weights
from grasp_seg_ros.sim.camera import CameraConfig, DepthNoise
from grasp_seg_ros.sim.scene import make_scene

pytestmark = pytest.mark.skipif("ggcnn" not in shipped_models(), reason="no shipped model")


@pytest.fixture(scope="module")
def onnx_file(tmp_path_factory):
    return export_onnx("ggcnn", tmp_path_factory.mktemp("onnx") / "ggcnn.onnx")


@pytest.fixture(scope="module")
def frame():
    cam = CameraConfig()
    with make_scene(11, camera=cam) as scene:
        depth, _ = scene.render(DepthNoise(), np.random.default_rng(0))
    return cam, depth


def test_onnx_maps_match_torch(onnx_file, frame):
    cam, depth = frame
    from grasp_seg_ros.core.resources import resolve_model
    net, meta = load_weights(resolve_model("ggcnn"))
    onnx = OnnxBackend(onnx_file)
    assert onnx.metadata == meta  # pre/post-processing travels with the ONNX file
    x = preprocess(depth, CropSpec(300), meta.normalisation).net_input
    import torch
    np.testing.assert_allclose(onnx(x), TorchBackend(net, torch.device("cpu"))(x),
                               atol=1e-4, rtol=1e-4)


def test_detector_on_onnx_gives_the_same_grasp(onnx_file, frame):
    cam, depth = frame
    a = GraspDetector("ggcnn", device="cpu").detect(depth, cam.intrinsics()).best
    b = GraspDetector(onnx_file, device="cpu").detect(depth, cam.intrinsics()).best
    assert (a.grasp_2d.row, a.grasp_2d.col) == (b.grasp_2d.row, b.grasp_2d.col)
    assert a.angle_rad == pytest.approx(b.angle_rad, abs=1e-3)
    assert a.width_m == pytest.approx(b.width_m, rel=1e-3)


def test_missing_or_foreign_onnx_files_are_clear_errors(tmp_path):
    with pytest.raises(ModelFileError, match="does not exist; create it with grasp-seg export"):
        OnnxBackend(tmp_path / "none.onnx")
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a model")
    with pytest.raises(ModelFileError, match="cannot be loaded"):
        OnnxBackend(junk)
