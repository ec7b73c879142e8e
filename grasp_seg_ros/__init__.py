"""Real-time grasp detection from depth images, with a ROS 2 node and offline training tools."""

__version__ = "0.1.0"
