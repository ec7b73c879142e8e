"""Property-based fuzzing of conversion, preprocessing and decoding (hypothesis).

Over 10,000 generated frames (payload, encoding, geometry, intrinsics and network maps all
arbitrary, NaN and infinities included): only the package's domain errors escape, and every
pose that would be published is finite.
"""

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from grasp_seg_ros.core.camera import CameraIntrinsics
from grasp_seg_ros.core.depth import depth_from_buffer
from grasp_seg_ros.core.errors import GraspSegError
from grasp_seg_ros.core.grasp import DecodeParams, OutputScaling
from grasp_seg_ros.core.preprocess import CropSpec, InputNormalisation, preprocess
from grasp_seg_ros.inference.decoding import decode

MAP_PX = 24  # small network maps keep 10,000 examples fast; the code is size-agnostic
SPECIAL = [0.0, -0.0, 1.0, -1.0, np.nan, np.inf, -np.inf, 1e-30, 3e38, -3e38, 65535.0]


@st.composite
def frames(draw):
    encoding = draw(st.sampled_from(["16UC1", "32FC1", "mono16", "rgb8", "32FC3", ""]))
    height = draw(st.integers(0, 40))
    width = draw(st.integers(0, 40))
    itemsize = 4 if encoding == "32FC1" else 2
    step = width * itemsize + draw(st.sampled_from([0, 0, 0, 1, 4, -1]))
    n_bytes = max(0, height * step + draw(st.sampled_from([0, 0, 0, 0, 3, -2])))
    if encoding == "32FC1" and n_bytes % 4 == 0:
        values = draw(hnp.arrays(np.float32, n_bytes // 4, elements=st.one_of(
            st.sampled_from(SPECIAL).map(np.float32),
            st.floats(0.25, 2.0, width=32))))
        data = values.astype("<f4").tobytes()
    else:
        data = draw(st.binary(min_size=n_bytes, max_size=n_bytes))
    return dict(data=data, encoding=encoding, height=height, width=width, step=step,
                is_bigendian=draw(st.booleans()),
                depth_scale=draw(st.sampled_from([0.0, 0.0, 0.001, 10.0])))


@st.composite
def network_maps(draw):
    """Plausible maps from a drawn seed, with drawn special values at drawn places."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    raw = rng.normal(0.0, draw(st.sampled_from([0.01, 0.5, 3.0])),
                     (4, MAP_PX, MAP_PX)).astype(np.float32)
    if draw(st.booleans()):
        raw[draw(st.integers(0, 3))] = draw(st.sampled_from(SPECIAL))  # a whole channel
    for _ in range(draw(st.integers(0, 6))):
        raw[draw(st.integers(0, 3)), draw(st.integers(0, MAP_PX - 1)),
            draw(st.integers(0, MAP_PX - 1))] = draw(st.sampled_from(SPECIAL))
    return raw


@settings(max_examples=10_000, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(frame=frames(), raw=network_maps(),
       crop=st.integers(1, 40), k=st.lists(st.sampled_from(SPECIAL + [20.0, 15.5]),
                                           min_size=4, max_size=4),
       params=st.builds(DecodeParams, quality_sigma_px=st.sampled_from([0.0, 1.0, 2.0]),
                        angle_sigma_px=st.sampled_from([0.0, 2.0]),
                        quality_threshold=st.sampled_from([0.0, 0.1, 0.9]),
                        top_k=st.integers(1, 5), peak_min_distance_px=st.integers(1, 6)),
       tracking=st.one_of(st.none(), st.tuples(st.floats(-5, 30), st.floats(-5, 30))))
def test_only_domain_errors_escape_and_published_poses_are_finite(
        frame, raw, crop, k, params, tracking):
    try:
        depth = depth_from_buffer(**frame, valid_range_m=(0.05, 10.0))
        fx, fy, cx, cy = k
        intr = CameraIntrinsics.from_k([fx, 0, cx, 0, fy, cy, 0, 0, 1],
                                       width=frame["width"], height=frame["height"])
        intr.check_image(*depth.shape)
        pre = preprocess(depth, CropSpec(crop_size_px=crop, output_size_px=MAP_PX),
                         InputNormalisation(), min_valid_fraction=0.05)
        _, poses = decode(raw, pre, intr, OutputScaling(), params, tracking)
    except GraspSegError:
        return
    assert poses
    for pose in poses:
        assert pose.is_finite()
        assert np.isfinite(pose.as_vector()).all()
        assert abs(np.linalg.norm(pose.quat_xyzw) - 1.0) < 1e-6
