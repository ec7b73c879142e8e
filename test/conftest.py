"""Shared test set-up: DDS traffic of node tests stays on this machine, in its own domain."""

import os
import random

# Before any rclpy import: node tests talk over real DDS, isolated from other ROS users.
os.environ.setdefault("ROS_DOMAIN_ID", str(random.Random(os.getpid()).randint(1, 100)))
os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")

# Graphs the detector exports for ONNX Runtime (backend auto / onnxruntime) go to a cache of
# this run's own, so tests never read a graph a user's earlier run left in ~/.cache.
if "GRASP_SEG_TEST_CACHE" not in os.environ:
    import atexit
    import shutil
    import tempfile

    os.environ["GRASP_SEG_TEST_CACHE"] = tempfile.mkdtemp(prefix="grasp_seg_test_cache_")
    os.environ["XDG_CACHE_HOME"] = os.environ["GRASP_SEG_TEST_CACHE"]
    atexit.register(shutil.rmtree, os.environ["GRASP_SEG_TEST_CACHE"], True)
