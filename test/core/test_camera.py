import numpy as np
import pytest

from grasp_seg_ros.core.camera import CameraIntrinsics
from grasp_seg_ros.core.errors import InvalidCameraInfo

K = [385.0, 0.0, 319.5, 0.0, 380.0, 239.5, 0.0, 0.0, 1.0]


def test_pixel_point_pixel_round_trip():
    intr = CameraIntrinsics.from_k(K, width=640, height=480)
    rng = np.random.default_rng(1)
    rows, cols = rng.uniform(0, 480, 50), rng.uniform(0, 640, 50)
    z = rng.uniform(0.2, 3.0, 50)
    pts = intr.pixel_to_point(rows, cols, z)
    np.testing.assert_allclose(pts[:, 2], z)
    np.testing.assert_allclose(intr.point_to_pixel(pts), np.column_stack([rows, cols]),
                               atol=1e-9)


def test_principal_point_lies_on_optical_axis():
    intr = CameraIntrinsics.from_k(K, width=640, height=480)
    np.testing.assert_allclose(intr.pixel_to_point(239.5, 319.5, 0.7), [0.0, 0.0, 0.7])


@pytest.mark.parametrize("k, match", [
    ([0.0, 0, 320, 0, 380, 240, 0, 0, 1], "focal lengths must be positive"),
    ([385.0, 0, 320, 0, np.nan, 240, 0, 0, 1], "non-finite"),
    ([1.0] * 8, "9 elements"),
])
def test_unusable_k_is_rejected(k, match):
    with pytest.raises(InvalidCameraInfo, match=match):
        CameraIntrinsics.from_k(k, width=640, height=480)


def test_image_size_must_match_calibration():
    intr = CameraIntrinsics.from_k(K, width=640, height=480)
    intr.check_image(480, 640)
    with pytest.raises(InvalidCameraInfo, match="848x480 but CameraInfo describes 640x480"):
        intr.check_image(480, 848)
