"""Pure numpy/OpenCV/SciPy grasp-detection building blocks: no ROS, no torch."""
