"""The README's demo, end to end: two node processes over DDS, grasps logged, PNGs written."""

import subprocess
import sys

import cv2
import pytest

from grasp_seg_ros.core.resources import DEFAULT_MODEL, resolve_model, shipped_models
from grasp_seg_ros.nets.weights import read_metadata


@pytest.mark.skipif(DEFAULT_MODEL not in shipped_models(), reason="no shipped default model")
def test_demo_prints_grasps_and_saves_overlays(tmp_path):
    out = tmp_path / "demo"
    proc = subprocess.run([sys.executable, "-m", "grasp_seg_ros.cli", "demo", "--grasps", "3",
                           "--overlays", "2", "--out", str(out), "--timeout", "150"],
                          capture_output=True, text=True, timeout=300)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log
    lines = [ln for ln in log.splitlines() if "grasp in camera_depth_optical_frame" in ln]
    # every grasp counted is logged with its values (a pose and its ~/grasp vector)
    assert len(lines) >= 3 and "nan" not in " ".join(lines), log
    assert "nodes stopped with exit codes {'grasp_detector': 0, 'sim_camera': 0}" in log
    pngs = sorted(out.glob("overlay_*.png"))
    assert len(pngs) == 2
    img = cv2.imread(str(pngs[0]))
    # the network's input (a 300-px depth crop or a 224-cell height map), drawn at 2x
    size = 2 * read_metadata(resolve_model(DEFAULT_MODEL)).input_size_px
    assert img.shape == (size, size, 3)
    # the best grasp is drawn in red (BGR 0, 0, 255)
    assert ((img[:, :, 2] == 255) & (img[:, :, 0] == 0) & (img[:, :, 1] == 0)).sum() > 20


def test_demo_fails_cleanly_and_stops_the_camera_when_the_detector_dies(tmp_path):
    out = tmp_path / "demo"
    proc = subprocess.run([sys.executable, "-m", "grasp_seg_ros.cli", "demo", "--grasps", "1",
                           "--model", str(tmp_path / "missing.safetensors"), "--out", str(out),
                           "--timeout", "120"], capture_output=True, text=True, timeout=300)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 1, log
    assert "grasp_detector exited with code 1" in log
    # the camera was still running and was stopped by the demo, not left behind
    assert "'sim_camera': 0" in log, log
    assert "does not exist" in (out / "grasp_detector.log").read_text()
