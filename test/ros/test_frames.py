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
