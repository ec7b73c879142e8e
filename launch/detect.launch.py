"""Start the grasp detector on a depth camera's topics (realsense-ros 4.x by default).

    ros2 launch grasp_seg_ros detect.launch.py [model:=ggcnn2_heightmap_v2] [device:=auto]
        [backend:=auto | torch | onnxruntime] [rviz:=true]
        [depth_topic:=/camera/camera/depth/image_rect_raw]
        [camera_info_topic:=/camera/camera/depth/camera_info] [namespace:=]
        [params_file:=<share>/config/detect.yaml]
        [camera:=none | realsense | sim] [serial_no:=] [playback_file:=]
        [camera_params_file:=<share>/config/realsense.yaml]
        [mode:=continuous | on_demand] [target_frame:=] [managed:=false]

camera:=none (default) expects a running driver (realsense2_camera) on depth_topic;
camera:=realsense starts this package's realsense_camera node (pyrealsense2) on a live camera,
or on a recording with playback_file:=F.db3; camera:=sim starts the simulated camera.
managed:=true starts grasp_detector_managed, a lifecycle node for a bring-up tool to configure
and activate (e.g. ros2 lifecycle set /grasp_detector configure). model, device, backend, mode
and target_frame given here override the params file.
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.conditions import IfCondition, UnlessCondition
from launch.substitutions import LaunchConfiguration, PythonExpression
from launch_ros.actions import LifecycleNode, Node
from launch_ros.parameter_descriptions import ParameterValue


def generate_launch_description():
    share = get_package_share_directory("grasp_seg_ros")
    args = [
        DeclareLaunchArgument("model", default_value="ggcnn2_heightmap_v2",
                              description="model name in models/ or a .safetensors path"),
        DeclareLaunchArgument("device", default_value="auto", description="auto | cpu | cuda"),
        DeclareLaunchArgument("backend", default_value="auto",
                              description="network runtime: auto | torch | onnxruntime"),
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
        DeclareLaunchArgument("camera", default_value="none",
                              choices=["none", "realsense", "sim"],
                              description="none: use a running driver; realsense: start "
                                          "realsense_camera (pyrealsense2); sim: sim_camera"),
        DeclareLaunchArgument("serial_no", default_value="",
                              description="camera:=realsense: serial number (empty = any)"),
        DeclareLaunchArgument("playback_file", default_value="",
                              description="camera:=realsense: play this recording"),
        DeclareLaunchArgument("mode", default_value="continuous",
                              choices=["continuous", "on_demand"],
                              description="on_demand: detect only when ~/detect is called"),
        DeclareLaunchArgument("target_frame", default_value="",
                              description="frame of /grasp_pose (e.g. base_link); empty = "
                                          "the depth image's optical frame"),
        DeclareLaunchArgument("managed", default_value="false",
                              description="start the lifecycle variant (grasp_detector_managed)"),
        DeclareLaunchArgument("camera_params_file",
                              default_value=os.path.join(share, "config", "realsense.yaml"),
                              description="camera:=realsense: node parameters (YAML)"),
    ]

    def camera_is(value):
        return IfCondition(PythonExpression(
            ["'", LaunchConfiguration("camera"), f"' == '{value}'"]))

    realsense = Node(
        package="grasp_seg_ros",
        executable="realsense_camera",
        name="realsense_camera",
        output="screen",
        parameters=[LaunchConfiguration("camera_params_file"),
                    {"serial_no": LaunchConfiguration("serial_no"),
                     "playback_file": LaunchConfiguration("playback_file")}],
        condition=camera_is("realsense"),
    )
    sim = Node(
        package="grasp_seg_ros",
        executable="sim_camera",
        name="sim_camera",
        output="screen",
        condition=camera_is("sim"),
    )
    detector_parameters = [LaunchConfiguration("params_file"),
                           {"model": LaunchConfiguration("model"),
                            "device": LaunchConfiguration("device"),
                            "backend": LaunchConfiguration("backend"),
                            "mode": LaunchConfiguration("mode"),
                            "target_frame": ParameterValue(LaunchConfiguration("target_frame"),
                                                           value_type=str)}]
    detector_remappings = [("depth/image_raw", LaunchConfiguration("depth_topic")),
                           ("depth/camera_info", LaunchConfiguration("camera_info_topic"))]
    detector = Node(
        package="grasp_seg_ros",
        executable="grasp_detector",
        name="grasp_detector",
        namespace=LaunchConfiguration("namespace"),
        output="screen",
        parameters=detector_parameters,
        remappings=detector_remappings,
        condition=UnlessCondition(LaunchConfiguration("managed")),
    )
    managed_detector = LifecycleNode(
        package="grasp_seg_ros",
        executable="grasp_detector_managed",
        name="grasp_detector",
        namespace=LaunchConfiguration("namespace"),
        output="screen",
        parameters=detector_parameters,
        remappings=detector_remappings,
        condition=IfCondition(LaunchConfiguration("managed")),
    )
    rviz = Node(
        package="rviz2",
        executable="rviz2",
        name="rviz2",
        arguments=["-d", os.path.join(share, "config", "detect.rviz")],
        condition=IfCondition(LaunchConfiguration("rviz")),
    )
    return LaunchDescription([*args, realsense, sim, detector, managed_detector, rviz])
