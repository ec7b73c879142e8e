"""Fixtures of the node tests: rclpy in the test process, a model, a client, the node."""

import signal

import pytest
import rclpy

from helpers import nearest_surface_model
from node_harness import Client, start_detector, stop


@pytest.fixture(scope="module", autouse=True)
def ros():
    rclpy.init()
    yield
    rclpy.shutdown()


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return nearest_surface_model(tmp_path_factory.mktemp("model") / "nearest.safetensors")


@pytest.fixture
def client():
    c = Client()
    yield c
    c.close()


@pytest.fixture
def detector(model, tmp_path):
    log = tmp_path / "grasp_detector.log"
    proc = start_detector(model, log)
    yield proc, log
    stop(proc, signal.SIGKILL if proc.poll() is None else signal.SIGINT)
