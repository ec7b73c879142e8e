"""rclpy nodes and message conversion; the algorithms live in core/ and inference/."""
