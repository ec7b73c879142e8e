"""The grasp detector: depth in metres + intrinsics in, grasps and maps out."""

from grasp_seg_ros.inference.detector import Detection, DetectorConfig, GraspDetector

__all__ = ["Detection", "DetectorConfig", "GraspDetector"]
