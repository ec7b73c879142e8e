"""ONNX export and the ONNX Runtime backend agree with PyTorch; the detector's own export
(backend onnxruntime / auto) is kept, re-made when unreadable, and auto's choice is the
faster runtime."""

import logging
from pathlib import Path

import numpy as np
import pytest
import torch

from grasp_seg_ros.core.errors import ModelFileError
from grasp_seg_ros.core.preprocess import CropSpec, preprocess
from grasp_seg_ros.core.resources import DEFAULT_MODEL, resolve_model, shipped_models
from grasp_seg_ros.inference import onnx_backend
from grasp_seg_ros.inference.backends import TorchBackend, choose_faster, faster_backend
from grasp_seg_ros.inference.detector import GraspDetector
from grasp_seg_ros.inference.onnx_backend import (OnnxBackend, cached_onnx_path, export_onnx,
                                                  inference_onnx)
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


# -- the network exported for the detector (backend onnxruntime / auto) -------------------

class Sleeper:
    """A backend that takes a known time per pass (no model): for the choice alone."""

    def __init__(self, name, seconds):
        self.name, self.seconds = name, seconds

    def __call__(self, x):
        import time
        time.sleep(self.seconds)
        return x


def test_auto_times_each_runtime_and_keeps_the_faster():
    slow, fast = Sleeper("torch", 0.02), Sleeper("onnxruntime", 0.002)   # 10x apart
    chosen, medians = faster_backend([slow, fast], 8)
    assert chosen is fast and medians["torch"] > medians["onnxruntime"] > 0
    assert faster_backend([fast, slow], 8)[0] is fast


def test_auto_keeps_the_first_runtime_unless_another_is_clearly_faster():
    names = ["torch", "onnxruntime"]
    assert choose_faster(names, {"torch": 20.0, "onnxruntime": 17.0}) == "onnxruntime"
    assert choose_faster(names, {"torch": 20.0, "onnxruntime": 19.5}) == "torch"   # 2.5%
    assert choose_faster(names, {"torch": 20.0, "onnxruntime": 20.0}) == "torch"
    assert choose_faster(names, {"torch": 17.0, "onnxruntime": 20.0}) == "torch"


@pytest.fixture(scope="module")
def default_weights():
    path = resolve_model(DEFAULT_MODEL)
    net, meta = load_weights(path)
    return path, net, meta


def test_the_exported_default_computes_what_torch_computes(default_weights, tmp_path, frame):
    path, net, meta = default_weights
    backend = inference_onnx(net, meta, path, num_threads=1, cache_dir=tmp_path)
    assert backend.name == "onnxruntime" and backend.metadata == meta
    x = np.random.default_rng(0).random((meta.input_size_px,) * 2, dtype=np.float32)
    np.testing.assert_allclose(backend(x), TorchBackend(net, torch.device("cpu"))(x),
                               atol=1e-5, rtol=1e-5)
    cam, depth = frame
    on_torch = GraspDetector(DEFAULT_MODEL, device="cpu", backend="torch")
    on_ort = GraspDetector(DEFAULT_MODEL, device="cpu", backend="onnxruntime")
    assert on_ort.backend.name == "onnxruntime" and "(onnxruntime)" in on_ort.metadata_summary
    a, b = (d.detect(depth, cam.intrinsics()).grasps for d in (on_torch, on_ort))
    assert [g.grasp_2d.row for g in a] == [g.grasp_2d.row for g in b]
    assert [g.grasp_2d.col for g in a] == [g.grasp_2d.col for g in b]
    for g, h in zip(a, b):
        assert g.angle_rad == pytest.approx(h.angle_rad, abs=1e-4)
        assert g.width_m == pytest.approx(h.width_m, abs=1e-5)


def test_the_exported_graph_is_kept_and_exported_again_when_unreadable(
        default_weights, tmp_path, monkeypatch, caplog):
    path, net, meta = default_weights
    first = inference_onnx(net, meta, path, num_threads=1, cache_dir=tmp_path)
    kept = cached_onnx_path(path, tmp_path)
    assert kept.is_file() and [p.name for p in tmp_path.iterdir()] == [kept.name]
    x = np.random.default_rng(1).random((meta.input_size_px,) * 2, dtype=np.float32)

    def no_export(*args, **kwargs):
        raise AssertionError("exported again although a graph was kept")

    monkeypatch.setattr(onnx_backend, "_export", no_export)
    np.testing.assert_array_equal(
        inference_onnx(net, meta, path, num_threads=1, cache_dir=tmp_path)(x), first(x))
    monkeypatch.undo()
    kept.write_bytes(b"half a graph")          # e.g. a disk that filled up
    with caplog.at_level(logging.WARNING):
        again = inference_onnx(net, meta, path, num_threads=1, cache_dir=tmp_path)
    assert "exporting it again" in caplog.text and str(kept) in caplog.text
    np.testing.assert_array_equal(again(x), first(x))
    assert kept.stat().st_size > 1000


def test_the_kept_graph_is_named_by_the_weights_it_came_from(default_weights, tmp_path):
    path = default_weights[0]
    copy = tmp_path / "copy.safetensors"
    copy.write_bytes(path.read_bytes())
    digest = cached_onnx_path(path, tmp_path).stem.rsplit("-", 1)[1]
    assert cached_onnx_path(copy, tmp_path).stem.rsplit("-", 1)[1] == digest
    other = cached_onnx_path(resolve_model("ggcnn"), tmp_path).stem.rsplit("-", 1)[1]
    assert other != digest


def test_an_unwritable_cache_costs_the_export_not_the_backend(
        default_weights, tmp_path, caplog):
    path, net, meta = default_weights
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    with caplog.at_level(logging.WARNING):
        backend = inference_onnx(net, meta, path, num_threads=1, cache_dir=blocker / "onnx")
    assert "cannot keep the exported graph" in caplog.text
    assert backend(np.zeros((meta.input_size_px,) * 2, np.float32)).shape[0] == \
        meta.scaling.angle_bins + 1


def test_backend_settings_are_checked():
    with pytest.raises(ValueError, match="backend must be one of"):
        GraspDetector(DEFAULT_MODEL, device="cpu", backend="tensorrt")
    with pytest.raises(ValueError, match="runs fp32 on the CPU"):
        GraspDetector(DEFAULT_MODEL, device="cpu", backend="onnxruntime", precision="fp16")
    # auto runs what ONNX Runtime cannot on PyTorch: half precision, the network as trained
    assert GraspDetector(DEFAULT_MODEL, device="cpu", backend="auto",
                         precision="fp16").backend.name == "torch"
    assert GraspDetector(DEFAULT_MODEL, device="cpu", backend="auto",
                         optimise=False).backend.name == "torch"
    auto = GraspDetector(DEFAULT_MODEL, device="cpu", backend="auto")
    assert auto.backend.name in ("torch", "onnxruntime")
    # the node's start-up line says what ran and why (both runtimes' times)
    assert f"({auto.backend.name}; auto, forward pass median torch " in auto.metadata_summary
    assert "onnxruntime" in auto.backend.choice


def test_caches_follow_xdg_cache_home_at_each_call(tmp_path, monkeypatch):
    from grasp_seg_ros.core.resources import cache_dir
    from grasp_seg_ros.training.regrid import RegridSpec
    from grasp_seg_ros.core.heightmap import HeightMapSpec
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert onnx_backend.onnx_cache_dir() == tmp_path / "grasp_seg_ros" / "onnx"
    assert cache_dir("datasets") == tmp_path / "grasp_seg_ros" / "datasets"
    spec = RegridSpec(resolve_model("ggcnn"), HeightMapSpec(96, 0.004))
    assert spec.cache_dir().parent == tmp_path / "grasp_seg_ros" / "regrid"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert cache_dir("onnx") == Path.home() / ".cache" / "grasp_seg_ros" / "onnx"
