"""The demo on a ROS installation: simulated depth camera + grasp detector (+ RViz).

    ros2 launch grasp_seg_ros demo.launch.py [model:=ggcnn2_heightmap_v2] [rviz:=true]
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, IncludeLaunchDescription
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node


def generate_launch_description():
    share = get_package_share_directory("grasp_seg_ros")
    camera = Node(package="grasp_seg_ros", executable="sim_camera", name="sim_camera",
                  output="screen", parameters=[{"rate_hz": 10.0, "scene_period_s": 2.0}])
    detect = IncludeLaunchDescription(
        PythonLaunchDescriptionSource(os.path.join(share, "launch", "detect.launch.py")),
        launch_arguments={"model": LaunchConfiguration("model"),
                          "rviz": LaunchConfiguration("rviz")}.items())
    return LaunchDescription([
        DeclareLaunchArgument("model", default_value="ggcnn2_heightmap_v2"),
        DeclareLaunchArgument("rviz", default_value="false"),
        camera, detect])
