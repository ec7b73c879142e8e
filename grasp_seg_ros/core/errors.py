"""Domain errors raised by the core and turned into log messages at the node boundary."""


class GraspSegError(Exception):
    """Base class of every error this package raises on purpose."""


class InvalidDepth(GraspSegError):
    """A depth frame that cannot be used (wrong encoding, size, too few valid pixels...)."""


class InvalidCameraInfo(GraspSegError):
    """Camera intrinsics that cannot be used (zero focal length, size mismatch...)."""


class NoGraspFound(GraspSegError):
    """The quality map holds no grasp above the threshold."""


class ModelFileError(GraspSegError):
    """A weight file that is missing, corrupt or does not match its architecture."""


class DeviceUnavailable(GraspSegError):
    """The requested compute device (e.g. cuda) is not present on this machine."""


class InvalidImage(GraspSegError):
    """An image message that cannot be decoded or used (encoding, size, a missing mask)."""


class TransformUnavailable(GraspSegError):
    """No transform from the camera's frame to the target frame at a frame's stamp."""
