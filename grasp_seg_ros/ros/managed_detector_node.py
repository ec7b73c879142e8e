"""grasp_detector_managed: the grasp detector as a managed (lifecycle) node, for bring-up tools
(nav2's lifecycle manager, ``ros2 lifecycle set``). Same parameters, topics and service as
grasp_detector; nothing is loaded before configure and nothing runs outside active."""

from __future__ import annotations

import sys

from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn

from grasp_seg_ros.core.errors import GraspSegError
from grasp_seg_ros.ros.detector_node import EXECUTOR_THREADS, DetectionMixin
from grasp_seg_ros.ros.spin import run_node


class ManagedGraspDetectorNode(DetectionMixin, LifecycleNode):
    """The same node as a managed (lifecycle) node: configure loads the model and creates the
    outputs, activate subscribes and starts detecting, deactivate stops all work, cleanup
    unloads the model."""

    def __init__(self, **kwargs) -> None:
        LifecycleNode.__init__(self, "grasp_detector", **kwargs)
        self._declare()

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        try:
            self._configure()
        except (GraspSegError, ValueError) as exc:
            self.get_logger().error(f"cannot configure: {exc}")
            self._cleanup()
            return TransitionCallbackReturn.FAILURE
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._activate()
        self.get_logger().info("active: detecting")
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._deactivate()
        self.get_logger().info("inactive: not subscribed, no work")
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._cleanup()
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._deactivate()
        self._cleanup()
        return TransitionCallbackReturn.SUCCESS

    def destroy_node(self) -> None:
        self._deactivate()
        super().destroy_node()


def main(args: list[str] | None = None) -> int:
    """Entry point of grasp_detector_managed: the lifecycle node, waiting to be configured."""
    return run_node("grasp_detector", ManagedGraspDetectorNode, args, threads=EXECUTOR_THREADS)


if __name__ == "__main__":
    sys.exit(main())
