"""Shared test set-up: DDS traffic of node tests stays on this machine, in its own domain."""

import os
import random

# Before any rclpy import: node tests talk over real DDS, isolated from other ROS users.
os.environ.setdefault("ROS_DOMAIN_ID", str(random.Random(os.getpid()).randint(1, 100)))
os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
