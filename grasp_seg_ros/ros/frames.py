"""The camera-to-target transform of the detector node: looked up in tf2 at each frame's stamp
(a ROS installation provides tf2_ros), or a static transform given as parameters."""

from __future__ import annotations

from std_msgs.msg import Header

from grasp_seg_ros.core.errors import TransformUnavailable
from grasp_seg_ros.core.selection import RigidTransform

SOURCES = ("auto", "tf", "static")


def tf2_available() -> bool:
    try:
        import tf2_ros  # noqa: F401
    except ImportError:
        return False
    return True


class TargetFrame:
    """Where /grasp_pose is expressed.

    ``frame`` empty: the depth image's optical frame (``lookup`` gives None). ``source``:
    'tf' looks the transform up with tf2_ros; 'static' uses ``translation`` and
    ``rotation_xyzw`` (the optical frame's pose in the target frame); 'auto' is 'tf' where
    tf2_ros is importable, else 'static'. Raises ValueError for a source that cannot work.
    """

    def __init__(self, node, frame: str, source: str, translation: list[float],
                 rotation_xyzw: list[float], timeout_s: float) -> None:
        if source not in SOURCES:
            raise ValueError(f"target_transform must be one of {SOURCES}, got '{source}'")
        self.frame = frame.strip()
        self._static = RigidTransform.from_translation_quaternion(translation, rotation_xyzw)
        if source == "auto":
            source = "tf" if tf2_available() else "static"
        if source == "tf" and self.frame and not tf2_available():
            raise ValueError("target_transform is 'tf' but tf2_ros is not importable (no ROS "
                             "installation?); use target_transform:=static with "
                             "static_translation_m and static_rotation_xyzw")
        self.source = source
        self._timeout_s = timeout_s
        self._buffer = None
        self._listener = None
        if self.frame and source == "tf":
            import tf2_ros
            self._buffer = tf2_ros.Buffer()
            self._listener = tf2_ros.TransformListener(self._buffer, node, spin_thread=False)

    def describe(self) -> str:
        if not self.frame:
            return "the depth image's optical frame"
        return f"'{self.frame}' ({self.source} transform)"

    def lookup(self, header: Header) -> RigidTransform | None:
        """The transform from ``header.frame_id`` to the target frame at ``header.stamp``;
        None without a target frame. Raises TransformUnavailable."""
        if not self.frame:
            return None
        if self._buffer is None:
            return self._static
        import tf2_ros
        from rclpy.duration import Duration
        from rclpy.time import Time
        try:
            t = self._buffer.lookup_transform(self.frame, header.frame_id,
                                              Time.from_msg(header.stamp),
                                              timeout=Duration(seconds=self._timeout_s))
        except tf2_ros.TransformException as exc:
            raise TransformUnavailable(
                f"no transform from '{header.frame_id}' to '{self.frame}' at the frame's "
                f"stamp: {exc}") from None
        tr, q = t.transform.translation, t.transform.rotation
        return RigidTransform.from_translation_quaternion((tr.x, tr.y, tr.z),
                                                          (q.x, q.y, q.z, q.w))
