"""Node start-up and clean shutdown shared by the package's executables.

rclpy's own signal handler shuts the context down at once, under a worker thread that may be
publishing. Here SIGINT and SIGTERM instead end spin() in the main thread; the node then
stops its workers (destroy_node) before the context goes away. Start-up errors of this
package (bad model file, bad parameter) end the process with a message and exit code 1.
A node whose ``finished`` attribute turns true ends the process with its ``exit_code`` (0).
Unless the user has a Fast DDS profile of their own, the package's (ros.dds) is loaded.
"""

from __future__ import annotations

import signal
from typing import Callable

import rclpy
from rclpy.exceptions import ParameterException
from rclpy.executors import (ExternalShutdownException, MultiThreadedExecutor,
                             SingleThreadedExecutor)
from rclpy.impl.implementation_singleton import rclpy_implementation as _rclpy
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions

from grasp_seg_ros.core.errors import GraspSegError
from grasp_seg_ros.ros.dds import use_package_profile


def _raise_keyboard_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def run_node(name: str, factory: Callable[[], Node], args: list[str] | None = None, *,
             threads: int = 1) -> int:
    """Init rclpy, build the node, spin until SIGINT/SIGTERM, then shut down cleanly.

    ``threads`` > 1 spins a MultiThreadedExecutor (for a service callback that waits while
    the node's other callbacks go on).
    """
    _, dds_line = use_package_profile()   # before the middleware reads its profiles
    try:
        rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    except _rclpy.RCLError as exc:  # e.g. a parameters file that is missing or not YAML
        rclpy.logging.get_logger(name).fatal(
            f"cannot start: {exc}. Check the files and values given after --ros-args.")
        return 1
    rclpy.logging.get_logger(name).info(dds_line)
    signal.signal(signal.SIGINT, _raise_keyboard_interrupt)
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    node, executor = None, None
    try:
        node = factory()
        executor = (MultiThreadedExecutor(num_threads=threads) if threads > 1
                    else SingleThreadedExecutor())
        executor.add_node(node)
        # short slices: Python runs signal handlers only between bytecodes, not inside a
        # wait in C, so an endless spin() would never see SIGINT/SIGTERM
        # a node that has nothing more to do (a recording played to its end) sets `finished`
        while rclpy.ok() and not getattr(node, "finished", False):
            executor.spin_once(timeout_sec=0.1)
    except (GraspSegError, ParameterException, ValueError) as exc:
        if node is not None:
            raise
        rclpy.logging.get_logger(name).fatal(f"cannot start: {exc}")
        return 1
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    else:
        if node is not None:
            return int(getattr(node, "exit_code", 0))
    finally:
        if node is not None:
            node.destroy_node()
        if executor is not None:
            executor.shutdown(timeout_sec=5.0)
        rclpy.try_shutdown()
    return 0
