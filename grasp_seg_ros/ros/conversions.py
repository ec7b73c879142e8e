"""Message <-> array conversions at the ROS boundary.

Depth images are decoded by core.depth (it validates step, length and endianness and gives
metres); output images use cv_bridge when it is importable and a numpy path otherwise, the
two producing the same messages.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from geometry_msgs.msg import Point, Pose, PoseArray, PoseStamped, Quaternion
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Float32MultiArray, Header, MultiArrayDimension
from visualization_msgs.msg import Marker, MarkerArray

from grasp_seg_ros.core.camera import CameraIntrinsics
from grasp_seg_ros.core.depth import depth_from_buffer, depth_to_buffer
from grasp_seg_ros.core.errors import InvalidImage
from grasp_seg_ros.core.pose import GRASP_VECTOR_FIELDS, GraspPose

try:  # cv_bridge has no PyPI wheel; a ROS installation provides it
    from cv_bridge import CvBridge
    _BRIDGE: "CvBridge | None" = CvBridge()
except ImportError:
    _BRIDGE = None

_NUMPY_ENCODINGS = {"bgr8": (np.uint8, 3), "rgb8": (np.uint8, 3), "mono8": (np.uint8, 1),
                    "8UC1": (np.uint8, 1), "mono16": (np.uint16, 1), "16UC1": (np.uint16, 1),
                    "32FC1": (np.float32, 1)}


def image_to_depth_m(msg: Image, *, depth_scale: float = 0.0,
                     valid_range_m: tuple[float, float] = (0.0, np.inf)) -> np.ndarray:
    """sensor_msgs/Image (16UC1 mm or 32FC1 m) -> float32 metres, NaN = invalid."""
    return depth_from_buffer(msg.data, encoding=msg.encoding, height=msg.height,
                             width=msg.width, step=msg.step,
                             is_bigendian=bool(msg.is_bigendian), depth_scale=depth_scale,
                             valid_range_m=valid_range_m)


def depth_m_to_image(depth_m: np.ndarray, header: Header, encoding: str = "16UC1") -> Image:
    """Metres (NaN = invalid) -> sensor_msgs/Image in 16UC1 (mm) or 32FC1 (m)."""
    data, step = depth_to_buffer(depth_m, encoding)
    return Image(header=header, height=depth_m.shape[0], width=depth_m.shape[1],
                 encoding=encoding, is_bigendian=0, step=step, data=data)


def array_to_image(array: np.ndarray, header: Header, encoding: str) -> Image:
    """An OpenCV-style array -> sensor_msgs/Image (cv_bridge when present); raises
    InvalidImage when the array does not fit the encoding."""
    if encoding not in _NUMPY_ENCODINGS:
        raise InvalidImage(f"cannot encode '{encoding}'; known: {sorted(_NUMPY_ENCODINGS)}")
    if _BRIDGE is not None:
        msg = _BRIDGE.cv2_to_imgmsg(array, encoding=encoding)
        msg.header = header
        return msg
    dtype, channels = _NUMPY_ENCODINGS[encoding]
    arr = np.ascontiguousarray(array, dtype=np.dtype(dtype).newbyteorder("<"))
    if arr.ndim != (3 if channels > 1 else 2) or (channels > 1 and arr.shape[2] != channels):
        raise InvalidImage(f"array of shape {array.shape} cannot be encoded as {encoding}")
    return Image(header=header, height=arr.shape[0], width=arr.shape[1], encoding=encoding,
                 is_bigendian=0, step=arr.shape[1] * arr.itemsize * channels,
                 data=arr.tobytes())


def image_to_array(msg: Image) -> np.ndarray:
    """sensor_msgs/Image of a plain encoding -> array (cv_bridge when present); raises
    InvalidImage for an unknown encoding or a buffer that does not match the header."""
    if msg.encoding not in _NUMPY_ENCODINGS:
        raise InvalidImage(f"cannot decode encoding '{msg.encoding}'; "
                           f"known: {sorted(_NUMPY_ENCODINGS)}")
    dtype, channels = _NUMPY_ENCODINGS[msg.encoding]
    dt = np.dtype(dtype).newbyteorder(">" if msg.is_bigendian else "<")
    row_bytes = msg.width * dt.itemsize * channels
    if msg.step < row_bytes or len(msg.data) != msg.step * msg.height:
        raise InvalidImage(f"a {msg.width}x{msg.height} {msg.encoding} image needs step >= "
                           f"{row_bytes} and step x height bytes; got step {msg.step}, "
                           f"{len(msg.data)} bytes")
    if _BRIDGE is not None:
        return _BRIDGE.imgmsg_to_cv2(msg)
    rows = np.frombuffer(msg.data, np.uint8).reshape(msg.height, msg.step)[:, :row_bytes]
    arr = np.ascontiguousarray(rows).view(dt).astype(dt.newbyteorder("="))
    return arr.reshape(msg.height, msg.width, channels) if channels > 1 \
        else arr.reshape(msg.height, msg.width)


def image_to_mask(msg: Image, shape: tuple[int, int], mask_id: int) -> np.ndarray:
    """An instance-id image (mono8 or 16UC1) -> boolean mask of ``mask_id`` (0: any non-zero
    id); raises InvalidImage for another encoding or a size other than ``shape``."""
    ids = image_to_array(msg)
    if ids.ndim != 2 or ids.dtype not in (np.uint8, np.uint16):
        raise InvalidImage(f"a mask is mono8 or 16UC1 instance ids, got '{msg.encoding}'")
    if ids.shape != tuple(shape):
        raise InvalidImage(f"the mask is {ids.shape[1]}x{ids.shape[0]} but the depth image "
                           f"is {shape[1]}x{shape[0]}")
    return ids != 0 if mask_id == 0 else ids == mask_id


def camera_info_to_intrinsics(msg: CameraInfo) -> CameraIntrinsics:
    """CameraInfo -> intrinsics and distortion (raises InvalidCameraInfo for an uncalibrated
    K or a distortion it cannot undo)."""
    return CameraIntrinsics.from_k(list(msg.k), width=msg.width, height=msg.height,
                                   d=list(msg.d), distortion_model=msg.distortion_model)


def intrinsics_to_camera_info(intr: CameraIntrinsics, header: Header, *,
                              distortion_model: str | None = None,
                              d: Sequence[float] | None = None) -> CameraInfo:
    """Intrinsics and their distortion (or the ``distortion_model`` and ``d`` given; none
    when neither has one: plumb_bob with five zeros) -> CameraInfo."""
    if d is None:
        d = intr.distortion or (0.0, 0.0, 0.0, 0.0, 0.0)
        distortion_model = distortion_model or intr.distortion_model
    distortion_model = distortion_model or "plumb_bob"
    return CameraInfo(header=header, width=intr.width, height=intr.height,
                      distortion_model=distortion_model, d=[float(v) for v in d],
                      k=[intr.fx, 0.0, intr.cx, 0.0, intr.fy, intr.cy, 0.0, 0.0, 1.0],
                      r=[1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0],
                      p=[intr.fx, 0.0, intr.cx, 0.0, 0.0, intr.fy, intr.cy, 0.0,
                         0.0, 0.0, 1.0, 0.0])


def grasp_to_pose_msg(grasp: GraspPose) -> Pose:
    x, y, z = map(float, grasp.position_m)
    qx, qy, qz, qw = map(float, grasp.quat_xyzw)
    return Pose(position=Point(x=x, y=y, z=z), orientation=Quaternion(x=qx, y=qy, z=qz, w=qw))


def grasp_to_pose_stamped(grasp: GraspPose, header: Header) -> PoseStamped:
    return PoseStamped(header=header, pose=grasp_to_pose_msg(grasp))


def grasps_to_pose_array(grasps: list[GraspPose], header: Header) -> PoseArray:
    return PoseArray(header=header, poses=[grasp_to_pose_msg(g) for g in grasps])


def grasp_to_vector(grasp: GraspPose) -> Float32MultiArray:
    """Flat grasp values labelled through the layout (order in GRASP_VECTOR_FIELDS)."""
    msg = Float32MultiArray(data=grasp.as_vector())
    msg.layout.dim = [MultiArrayDimension(label=",".join(GRASP_VECTOR_FIELDS),
                                          size=len(GRASP_VECTOR_FIELDS), stride=1)]
    return msg


def gripper_markers(grasp: GraspPose, header: Header, *, finger_length_m: float,
                    namespace: str = "grasp") -> MarkerArray:
    """The best grasp drawn as a parallel-jaw gripper (LINE_LIST in the grasp's own frame).

    Fingers reach from ``finger_length_m`` above the surface down to it; the closing axis is
    the pose's x axis, the approach its z axis.
    """
    half, length = 0.5 * grasp.width_m, finger_length_m
    segments = [((-half, 0, -length), (-half, 0, 0)),      # finger
                ((half, 0, -length), (half, 0, 0)),        # finger
                ((-half, 0, -length), (half, 0, -length)),  # palm
                ((0, 0, -length), (0, 0, -2 * length))]    # wrist, against the approach
    gripper = Marker(header=header, ns=namespace, id=0, type=Marker.LINE_LIST,
                     action=Marker.ADD, pose=grasp_to_pose_msg(grasp))
    gripper.scale.x = 0.004
    gripper.color.r, gripper.color.g, gripper.color.b, gripper.color.a = 1.0, 0.1, 0.1, 1.0
    gripper.points = [Point(x=float(px), y=float(py), z=float(pz))
                      for seg in segments for (px, py, pz) in seg]
    label = Marker(header=header, ns=namespace, id=1, type=Marker.TEXT_VIEW_FACING,
                   action=Marker.ADD, pose=grasp_to_pose_msg(grasp),
                   text=f"q={grasp.quality:.2f} w={grasp.width_m * 100:.1f}cm")
    label.pose.position.z -= 2.5 * length
    label.scale.z = 0.015
    label.color.r = label.color.g = label.color.b = label.color.a = 1.0
    return MarkerArray(markers=[gripper, label])
