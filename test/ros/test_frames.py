"""The target-frame source: what works without a ROS installation and what is refused."""

import numpy as np
import pytest
from std_msgs.msg import Header

from grasp_seg_ros.ros.frames import TargetFrame, tf2_available


def test_static_transform_without_tf2():
    target = TargetFrame(None, "base_link", "static", [0.1, 0.2, 0.3], [0.0, 0.0, 0.0, 1.0],
                         0.05)
    t = target.lookup(Header(frame_id="camera_depth_optical_frame"))
    np.testing.assert_allclose(t.apply(np.zeros(3)), [0.1, 0.2, 0.3])
    assert "base_link" in target.describe() and "static" in target.describe()
    assert TargetFrame(None, "", "static", [0, 0, 0], [0, 0, 0, 1], 0.05).lookup(Header()) \
        is None


@pytest.mark.skipif(tf2_available(), reason="tf2_ros is importable (a ROS installation)")
def test_tf_without_tf2_ros_is_refused_with_the_way_out():
    with pytest.raises(ValueError, match="target_transform:=static"):
        TargetFrame(None, "base_link", "tf", [0, 0, 0], [0, 0, 0, 1], 0.05)
    # auto falls back to the static transform
    assert TargetFrame(None, "base_link", "auto", [0, 0, 0], [0, 0, 0, 1], 0.05).source \
        == "static"


def test_the_parameters_build_the_selection_they_describe():
    from grasp_seg_ros.ros.detector_params import PARAMETERS, check_values, grasp_selection
    values = {name: spec.default for name, spec in PARAMETERS.items()}
    check_values(values)
    assert grasp_selection(values, None, None) is None  # the defaults restrict nothing
    values.update(workspace_enabled=True, clearance_check=True, finger_reach_m=0.02)
    selection = grasp_selection(values, np.ones((4, 4), bool), None)
    assert selection.workspace.max_m == (1.0, 1.0, 3.0) and selection.mask.shape == (4, 4)
    assert selection.clearance.reach_m == 0.02
    values["workspace_min_m"] = [0.0, 0.0, 5.0]
    with pytest.raises(ValueError, match="workspace_min_m"):
        check_values(values)


@pytest.mark.parametrize("changes, reason", [
    ({"backend": "tensorrt"}, "backend must be one of"),
    ({"backend": "onnxruntime", "precision": "fp16"}, "runs fp32 on the CPU"),
    ({"backend": "onnxruntime", "device": "cuda"}, "runs fp32 on the CPU"),
])
def test_backend_settings_it_cannot_honour_are_refused(changes, reason):
    from grasp_seg_ros.ros.detector_params import PARAMETERS, check_values
    values = {name: spec.default for name, spec in PARAMETERS.items()}
    values.update(changes)
    with pytest.raises(ValueError, match=reason):
        check_values(values)
