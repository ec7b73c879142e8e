"""ament_python package; also installable with pip (console scripts land on PATH)."""

from glob import glob

from setuptools import find_packages, setup

PACKAGE = "grasp_seg_ros"

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(include=[PACKAGE, f"{PACKAGE}.*"]),
    python_requires=">=3.10",
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/launch", glob("launch/*.launch.py")),
        (f"share/{PACKAGE}/config", glob("config/*.yaml") + glob("config/*.rviz")
         + glob("config/*.xml")),
        (f"share/{PACKAGE}/models", glob("models/*.safetensors") + glob("models/*.md")),
    ],
    # torch, torchvision, pybullet and safetensors come from pip (requirements.txt), not
    # rosdep; numpy, OpenCV and SciPy from either.
    install_requires=["setuptools"],
    zip_safe=True,
    maintainer="grasp_seg_ros maintainers",
    maintainer_email="maintainers@grasp-seg-ros.invalid",
    description="Real-time grasp detection from depth images as a ROS 2 node.",
    license="BSD-3-Clause",
    entry_points={
        "console_scripts": [
            "grasp_detector = grasp_seg_ros.ros.detector_node:main",
            "grasp_detector_managed = grasp_seg_ros.ros.managed_detector_node:main",
            "sim_camera = grasp_seg_ros.ros.sim_camera_node:main",
            "realsense_camera = grasp_seg_ros.ros.realsense_node:main",
            "grasp-seg = grasp_seg_ros.cli:main",
        ],
    },
)
