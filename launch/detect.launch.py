"""Start the grasp detector on a depth camera's topics (realsense-ros 4.x by default).

    ros2 launch grasp_seg_ros detect.launch.py [model:=ggcnn] [device:=auto] [rviz:=true]
        [depth_topic:=/camera/camera/depth/image_rect_raw]
        [camera_info_topic:=/camera/camera/depth/camera_info] [namespace:=]
        [params_file:=<share>/config/detect.yaml]
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node


def generate_launch_description():
    share = get_package_share_directory("grasp_seg_ros")
    args = [
        DeclareLaunchArgument("model", default_value="ggcnn",
                              description="model name in models/ or a .safetensors path"),
        DeclareLaunchArgument("device", default_value="auto", description="auto | cpu | cuda"),
        DeclareLaunchArgument("params_file",
                              default_value=os.path.join(share, "config", "detect.yaml"),
                              description="node parameters (YAML)"),
        DeclareLaunchArgument("depth_topic", default_value="/camera/camera/depth/image_rect_raw",
                              description="depth image (16UC1 mm or 32FC1 m)"),
        DeclareLaunchArgument("camera_info_topic",
                              default_value="/camera/camera/depth/camera_info",
                              description="CameraInfo of the depth image"),
        DeclareLaunchArgument("namespace", default_value="", description="node namespace"),
        DeclareLaunchArgument("rviz", default_value="false",
                              description="start rviz2 with config/detect.rviz"),
    ]
    detector = Node(
        package="grasp_seg_ros",
        executable="grasp_detector",
        name="grasp_detector",
        namespace=LaunchConfiguration("namespace"),
        output="screen",
        parameters=[LaunchConfiguration("params_file"),
                    {"model": LaunchConfiguration("model"),
                     "device": LaunchConfiguration("device")}],
        remappings=[("depth/image_raw", LaunchConfiguration("depth_topic")),
                    ("depth/camera_info", LaunchConfiguration("camera_info_topic"))],
    )
    rviz = Node(
        package="rviz2",
        executable="rviz2",
        name="rviz2",
        arguments=["-d", os.path.join(share, "config", "detect.rviz")],
        condition=IfCondition(LaunchConfiguration("rviz")),
    )
    return LaunchDescription([*args, detector, rviz])
