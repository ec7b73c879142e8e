import numpy as np
import pytest

from grasp_seg_ros.core.depth import depth_from_buffer, depth_to_buffer
from grasp_seg_ros.core.errors import InvalidDepth


def _depth(h=4, w=5):
    rng = np.random.default_rng(0)
    d = rng.uniform(0.2, 2.0, (h, w)).astype(np.float32)
    d[1, 2] = np.nan
    return d


@pytest.mark.parametrize("encoding, tol", [("16UC1", 0.0005), ("32FC1", 0.0)])
def test_round_trip(encoding, tol):
    d = _depth()
    data, step = depth_to_buffer(d, encoding)
    back = depth_from_buffer(data, encoding=encoding, height=4, width=5, step=step)
    assert back.dtype == np.float32
    np.testing.assert_array_equal(np.isnan(back), np.isnan(d))
    np.testing.assert_allclose(back[~np.isnan(d)], d[~np.isnan(d)], atol=tol + 1e-7)


def test_16uc1_is_millimetres_and_zero_is_invalid():
    raw = np.array([[0, 1000, 65535]], "<u2")
    d = depth_from_buffer(raw.tobytes(), encoding="16UC1", height=1, width=3, step=6)
    assert np.isnan(d[0, 0]) and d[0, 1] == pytest.approx(1.0) and d[0, 2] == pytest.approx(65.535)


def test_32fc1_invalid_values_become_nan():
    raw = np.array([[0.0, np.nan, -1.0, np.inf, 0.5]], "<f4")
    d = depth_from_buffer(raw.tobytes(), encoding="32FC1", height=1, width=5, step=20)
    assert np.isnan(d[0, :4]).all() and d[0, 4] == pytest.approx(0.5)


def test_depth_scale_overrides_encoding_unit():
    raw = np.array([[100]], "<u2")
    d = depth_from_buffer(raw.tobytes(), encoding="16UC1", height=1, width=1, step=2,
                          depth_scale=0.0001)
    assert d[0, 0] == pytest.approx(0.01)


def test_row_padding_and_big_endian():
    raw = np.array([[1000, 2000], [3000, 4000]], ">u2")
    padded = np.zeros((2, 6), np.uint8)
    padded[:, :4] = raw.view(np.uint8).reshape(2, 4)
    d = depth_from_buffer(padded.tobytes(), encoding="16UC1", height=2, width=2, step=6,
                          is_bigendian=True)
    np.testing.assert_allclose(d, [[1.0, 2.0], [3.0, 4.0]])


@pytest.mark.parametrize("kwargs, match", [
    (dict(encoding="rgb8", height=2, width=2, step=6), "unsupported depth encoding"),
    (dict(encoding="16UC1", height=2, width=2, step=2), "step 2 is smaller"),
    (dict(encoding="16UC1", height=3, width=2, step=4), "holds 8 bytes"),
    (dict(encoding="16UC1", height=0, width=2, step=4), "empty"),
])
def test_bad_payloads_raise_with_values(kwargs, match):
    with pytest.raises(InvalidDepth, match=match):
        depth_from_buffer(bytes(8), **kwargs)


def test_depths_outside_the_valid_range_are_holes():
    raw = np.array([[0.01, 0.5, 20.0, 3e38]], "<f4")
    d = depth_from_buffer(raw.tobytes(), encoding="32FC1", height=1, width=4, step=16,
                          valid_range_m=(0.05, 10.0))
    assert np.isnan(d[0, [0, 2, 3]]).all() and d[0, 1] == pytest.approx(0.5)


def test_encoding_writes_non_finite_as_invalid():
    data, _ = depth_to_buffer(np.array([[np.inf, -np.inf, 0.5]], np.float32), "32FC1")
    assert np.frombuffer(data, "<f4").tolist() == [0.0, 0.0, 0.5]
