"""grasp-seg realsense: simulated scenes recorded and read back; errors without a camera."""

import json

import numpy as np

from grasp_seg_ros.cli import main
from grasp_seg_ros.realsense.device import SourceConfig, open_source
from grasp_seg_ros.sim.camera import CameraConfig


def test_synth_then_info(tmp_path, capsys):
    path = tmp_path / "sim.db3"
    assert main(["realsense", "synth", "--out", str(path), "--scenes", "2",
                 "--frames-per-scene", "3", "--unpaced"]) == 0
    capsys.readouterr()
    assert main(["realsense", "info", str(path)]) == 0
    info = json.loads(capsys.readouterr().out)
    cam = CameraConfig()
    assert info["frames"] == 6
    assert info["size"] == [cam.width, cam.height]
    assert abs(info["fx"] - cam.intrinsics().fx) < 1e-3
    with open_source(SourceConfig(playback_file=path, realtime=False)) as src:
        depth = next(iter(src.frames())).depth_mm
    # a table 0.55 m below the camera fills most of the image
    assert 500 < float(np.median(depth[depth > 0])) < 600


def test_info_on_missing_file_fails_with_its_name(tmp_path, caplog):
    assert main(["realsense", "info", str(tmp_path / "gone.db3")]) == 1
    assert "gone.db3" in caplog.text
