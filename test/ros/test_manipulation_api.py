"""What a manipulation stack asks of grasp_detector, each over DDS against the node process:
grasps on demand (~/detect), in a target frame with a pre-grasp, inside a workspace box, on
one masked object, clear of neighbours, and the managed (lifecycle) node's transitions.

The test model (helpers.nearest_surface_model) scores nearer surfaces higher, closes along
+x of the image, 30 network pixels wide: the tests know where the best grasp is, and each
feature moves it somewhere a test can tell apart.
"""

import re
import signal

import numpy as np
import pytest
from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState, GetState
from scipy.spatial.transform import Rotation
from std_srvs.srv import Trigger

from node_harness import INTR, call, set_parameter, start_detector, stop

START_TIMEOUT_S = 90.0

#: (r0, r1, c0, c1, depth_m) of the scene's objects on a table at 0.6 m
TALL = (200, 240, 330, 345, 0.50)    # nearest: the best grasp without restrictions
WALL = (200, 230, 350, 370, 0.505)   # beside TALL: a finger next to TALL lands on it
SHORT = (300, 340, 200, 215, 0.52)   # alone on the table


def scene(*boxes) -> np.ndarray:
    depth = np.full((INTR.height, INTR.width), 0.60, np.float32)
    for r0, r1, c0, c1, z in boxes:
        depth[r0:r1, c0:c1] = z
    depth[::17, ::13] = np.nan  # sensor holes
    return depth


def on_box(box, row: float, col: float, margin: int = 3) -> bool:
    r0, r1, c0, c1, _ = box
    return r0 - margin <= row < r1 + margin and c0 - margin <= col < c1 + margin


def position(pose) -> np.ndarray:
    p = pose.pose.position if hasattr(pose, "pose") else pose.position
    return np.array([p.x, p.y, p.z])


def rotation(pose) -> np.ndarray:
    q = pose.pose.orientation if hasattr(pose, "pose") else pose.orientation
    return Rotation.from_quat([q.x, q.y, q.z, q.w]).as_matrix()


def pixel(pose) -> tuple[float, float]:
    """The image pixel of an optical-frame pose."""
    row, col = INTR.point_to_pixel(position(pose))
    return float(row), float(col)


@pytest.fixture
def node(model, tmp_path):
    """Start a detector with extra arguments; stopped (and its log checked) afterwards."""
    procs = []

    def start(*extra, managed=False):
        log = tmp_path / f"grasp_detector_{len(procs)}.log"
        proc = start_detector(model, log, *extra, managed=managed)
        procs.append((proc, log))
        return proc, log
    yield start
    for proc, log in procs:
        stop(proc, signal.SIGKILL if proc.poll() is None else signal.SIGINT)
        assert "Traceback" not in log.read_text(), log.read_text()


def answer_stamp(answer) -> tuple[int, int]:
    sec, nsec = re.search(r"stamp (\d+)\.(\d{9})", answer.message).groups()
    return int(sec), int(nsec)


def pose_stamps(client) -> set[tuple[int, int]]:
    return {(p.header.stamp.sec, p.header.stamp.nanosec) for p in client.received["pose"]}


def idle(client) -> int:
    """frames_idle of the latest diagnostics: frames an on-demand node let pass."""
    return int((diagnostics_values(client) or {}).get("frames_idle", 0))


def poses_after(client, key: str, first_sent: int) -> list:
    """Messages on ``key`` whose stamp is a frame sent at index ``first_sent`` or later."""
    later = set(client.sent_stamps[first_sent:])
    return [m for m in client.received[key]
            if (m.header.stamp.sec, m.header.stamp.nanosec) in later]


def diagnostics_values(client) -> dict | None:
    for msg in reversed(client.received["diagnostics"]):
        for status in msg.status:
            if status.name.endswith("grasp_detector: detection"):
                return {kv.key: kv.value for kv in status.values}
    return None


def test_on_demand_answers_with_a_frame_that_arrived_after_the_request(node, client):
    proc, log = node("-p", "mode:=on_demand", "-p", "request_timeout_s:=30.0")
    depth = scene(TALL)
    # before any CameraInfo: a failure that says why, at once
    answer = call(client, Trigger, "/grasp_detector/detect", Trigger.Request())
    assert not answer.success and "CameraInfo" in answer.message, answer.message

    # frames flow but nobody asks: no grasp is computed
    assert client.spin_until(lambda: idle(client) > 5, START_TIMEOUT_S,
                             publish=lambda: client.publish(depth)), log.read_text()
    assert client.received["pose"] == []
    values = diagnostics_values(client)
    assert values["frames_processed"] == "0" and values["mode"] == "on_demand", values

    # three concurrent requests: each answered by a frame stamped after it was made. A frame
    # published just before the requests may still be in flight and reach the node after
    # them (rightly answering them: "the next frame to arrive"), so none is sent for a while
    # first: every frame stamped up to `before` has arrived (or is lost) by then
    srv = client.service(Trigger, "/grasp_detector/detect")
    client.spin_until(lambda: False, 1.0)
    before = max(client.sent_stamps)
    futures = [srv.call_async(Trigger.Request()) for _ in range(3)]
    assert client.spin_until(lambda: all(f.done() for f in futures), 60.0,
                             publish=lambda: client.publish(depth)), log.read_text()
    answers = [f.result() for f in futures]
    assert all(a.success for a in answers), [a.message for a in answers]
    for a in answers:
        stamp = answer_stamp(a)
        assert stamp > before and stamp in client.sent_stamps, (a.message, before)
        # the full result went out on /grasp_pose with that frame's stamp
        assert client.spin_until(lambda: stamp in pose_stamps(client), 5.0)
        assert re.search(r"grasp at \(.+\) m in 'test_depth_optical_frame'", a.message)
    # after the answers, frames are idle again: at most one grasp per request went out
    answered_at = idle(client)
    assert client.spin_until(lambda: idle(client) >= answered_at + 5, 30.0,
                             publish=lambda: client.publish(depth))
    assert 1 <= len(client.received["pose"]) <= 3
    assert stop(proc) == 0


# the camera looks straight down from 0.9 m above the base, its image x along base +x
T_BASE_CAMERA = np.array([0.1, 0.2, 0.9])
R_BASE_CAMERA = Rotation.from_euler("x", 180, degrees=True)


def test_poses_in_the_target_frame_with_a_pregrasp_inside_the_workspace(node, client):
    t, q = T_BASE_CAMERA, R_BASE_CAMERA.as_quat()
    proc, log = node("-p", "target_frame:=base_link", "-p", "target_transform:=static",
                     "-p", f"static_translation_m:={list(map(float, t))}",
                     "-p", f"static_rotation_xyzw:={list(map(float, q))}",
                     "-p", "pregrasp_offset_m:=0.12")
    depth = scene(TALL, SHORT)
    assert client.spin_until(lambda: client.received["pregrasp"]
                             and client.received["pose_optical"], START_TIMEOUT_S,
                             publish=lambda: client.publish(depth)), log.read_text()
    pose = client.received["pose"][-1]
    stamp = (pose.header.stamp.sec, pose.header.stamp.nanosec)
    optical = next(p for p in client.received["pose_optical"]
                   if (p.header.stamp.sec, p.header.stamp.nanosec) == stamp)
    assert pose.header.frame_id == "base_link"
    assert optical.header.frame_id == "test_depth_optical_frame"
    assert on_box(TALL, *pixel(optical))
    # the same grasp, moved into the base frame by the static transform
    expected = R_BASE_CAMERA.apply(position(optical)) + t
    np.testing.assert_allclose(position(pose), expected, atol=1e-5)
    np.testing.assert_allclose(rotation(pose), R_BASE_CAMERA.as_matrix() @ rotation(optical),
                               atol=1e-5)
    assert position(pose)[2] == pytest.approx(0.9 - 0.5, abs=0.01)  # the box top, in base
    # the pre-grasp: 12 cm back along the approach, i.e. straight up from the box top
    client.spin_until(lambda: any((p.header.stamp.sec, p.header.stamp.nanosec) == stamp
                                  for p in client.received["pregrasp"]), 5.0)
    pre = next(p for p in client.received["pregrasp"]
               if (p.header.stamp.sec, p.header.stamp.nanosec) == stamp)
    assert pre.header.frame_id == "base_link"
    np.testing.assert_allclose(position(pre), position(pose) + [0, 0, 0.12], atol=1e-5)
    np.testing.assert_allclose(rotation(pre), rotation(pose), atol=1e-6)
    # a continuous node serves ~/detect too, each time with a frame that came after the
    # request (not the one in the worker's hands when it was made)
    srv = client.service(Trigger, "/grasp_detector/detect")
    for _ in range(5):
        # no frame in flight: the newest one sent has its pose, so the node has received
        # every frame sent so far (one sent just before the call could reach it just after)
        assert client.spin_until(lambda: max(client.sent_stamps) in pose_stamps(client), 30.0,
                                 publish=lambda: client.publish(depth), period_s=2.0)
        before = max(client.sent_stamps)
        future = srv.call_async(Trigger.Request())
        assert client.spin_until(future.done, 30.0, publish=lambda: client.publish(depth),
                                 period_s=0.05)
        assert future.result().success and answer_stamp(future.result()) > before
        assert "in 'base_link'" in future.result().message

    # a workspace box in the base frame around SHORT only: TALL is never grasped again
    short_centre = R_BASE_CAMERA.apply(INTR.pixel_to_point(320, 207, 0.52)) + t
    lo, hi = short_centre - [0.05, 0.05, 0.05], short_centre + [0.05, 0.05, 0.05]
    for name, value in (("workspace_min_m", lo.tolist()), ("workspace_max_m", hi.tolist()),
                        ("workspace_enabled", True)):
        assert set_parameter(client, name, value).successful
    first = len(client.sent_stamps)  # frames sent from here on meet the box
    assert client.spin_until(lambda: len(poses_after(client, "poses", first)) >= 5, 60.0,
                             publish=lambda: client.publish(depth))
    for msg in poses_after(client, "poses", first):  # every grasp, not only the best
        for p in msg.poses:
            assert ((position(p) >= lo) & (position(p) <= hi)).all(), position(p)
    assert on_box(SHORT, *pixel(poses_after(client, "pose_optical", first)[-1]))

    # a box around nothing: no grasp, the reason in the diagnostics, the node keeps going
    assert set_parameter(client, "workspace_max_m", [6.0, 6.0, 6.0]).successful
    assert set_parameter(client, "workspace_min_m", [5.0, 5.0, 5.0]).successful
    bad = set_parameter(client, "workspace_max_m", [4.0, 6.0, 6.0])
    assert not bad.successful and "below its maximum" in bad.reason
    first = len(client.sent_stamps)
    answers = []
    for _ in range(2):  # each answered by a frame sent after the box was set
        future = srv.call_async(Trigger.Request())
        assert client.spin_until(future.done, 30.0, publish=lambda: client.publish(depth))
        answers.append(future.result())
    for answer in answers:
        assert not answer.success and "inside the workspace box" in answer.message
        assert answer_stamp(answer) in client.sent_stamps[first:]
    # the frames between the two answers were processed: none gave a pose
    assert poses_after(client, "pose", client.sent_stamps.index(answer_stamp(answers[0]))) \
        == []
    assert stop(proc) == 0


def test_a_mask_restricts_grasps_to_one_object(node, client):
    proc, log = node("-p", "use_mask:=true", "-p", "mask_id:=2")
    depth = scene(TALL, SHORT)
    ids = np.zeros(depth.shape, np.uint16)
    for object_id, (r0, r1, c0, c1, _) in ((1, TALL), (2, SHORT)):
        ids[r0:r1, c0:c1] = object_id
    # frames without a mask are skipped with the reason; the node keeps going
    assert client.spin_until(lambda: "no mask with the depth frame's stamp" in log.read_text(),
                             START_TIMEOUT_S, publish=lambda: client.publish(depth))
    assert client.received["pose"] == []
    assert client.spin_until(lambda: len(client.received["pose_optical"]) >= 5, 60.0,
                             publish=lambda: client.publish(depth, mask=ids)), log.read_text()
    for msg in client.received["poses_optical"]:
        for p in msg.poses:  # never the nearer TALL, which id 2 masks out
            assert on_box(SHORT, *pixel(p)), pixel(p)
    # any non-zero id: the best object is TALL again
    assert set_parameter(client, "mask_id", 0).successful
    n = len(client.received["pose_optical"])
    assert client.spin_until(lambda: len(client.received["pose_optical"]) >= n + 4, 60.0,
                             publish=lambda: client.publish(depth, mask=ids))
    assert on_box(TALL, *pixel(client.received["pose_optical"][-1]))
    # a mask of the wrong size is a skipped frame with the reason
    small = np.zeros((240, 320), np.uint8)
    assert client.spin_until(lambda: "the mask is 320x240" in log.read_text(), 30.0,
                             publish=lambda: client.publish(depth, mask=small))
    assert proc.poll() is None
    assert stop(proc) == 0


def test_clearance_drops_grasps_whose_fingers_would_hit_a_neighbour(node, client):
    proc, log = node()
    depth = scene(TALL, WALL, SHORT)
    # without the check, the best grasp is TALL: its finger lands on WALL
    assert client.spin_until(lambda: client.received["pose_optical"], START_TIMEOUT_S,
                             publish=lambda: client.publish(depth)), log.read_text()
    assert on_box(TALL, *pixel(client.received["pose_optical"][-1]))
    assert set_parameter(client, "clearance_check", True).successful
    n = len(client.received["poses_optical"])
    assert client.spin_until(lambda: len(client.received["poses_optical"]) >= n + 6, 60.0,
                             publish=lambda: client.publish(depth)), log.read_text()
    later = client.received["poses_optical"][n + 2:]
    for msg in later:
        for p in msg.poses:
            row, col = pixel(p)
            # TALL's fingers hit WALL, WALL's hit WALL itself, the table's hit the table:
            # only SHORT, alone and narrower than the opening, leaves room for both fingers
            assert on_box(SHORT, row, col), (row, col)
    assert stop(proc) == 0


def test_managed_node_works_only_while_active(node, client, tmp_path):
    proc, log = node(managed=True)
    depth = scene(TALL)
    get_state = "/grasp_detector/get_state"
    assert call(client, GetState, get_state, GetState.Request()).current_state.label \
        == "unconfigured"

    def change(transition_id: int) -> bool:
        return call(client, ChangeState, "/grasp_detector/change_state",
                    ChangeState.Request(transition=Transition(id=transition_id))).success

    def subscribed() -> bool:
        return client.depth_pub.get_subscription_count() > 0

    assert change(Transition.TRANSITION_CONFIGURE), log.read_text()
    assert "running ggcnn2" in log.read_text()
    # configured, not active: the model is loaded, the depth topic is not subscribed
    assert call(client, GetState, get_state, GetState.Request()).current_state.label \
        == "inactive"
    assert not subscribed() and client.received["pose"] == []
    assert change(Transition.TRANSITION_ACTIVATE)
    assert client.spin_until(lambda: len(client.received["pose"]) >= 3, START_TIMEOUT_S,
                             publish=lambda: client.publish(depth)), log.read_text()
    assert change(Transition.TRANSITION_DEACTIVATE)
    first = len(client.sent_stamps)  # the worker has stopped: these frames meet no node
    assert client.spin_until(lambda: not subscribed(), 30.0,
                             publish=lambda: client.publish(depth))
    answer = call(client, Trigger, "/grasp_detector/detect", Trigger.Request())
    assert not answer.success and "not active" in answer.message
    client.spin_until(lambda: len(client.sent_stamps) >= first + 10, 10.0,
                      publish=lambda: client.publish(depth), period_s=0.05)
    assert poses_after(client, "pose", first) == []
    assert change(Transition.TRANSITION_CLEANUP)
    assert call(client, GetState, get_state, GetState.Request()).current_state.label \
        == "unconfigured"
    # a bad model file fails configure with the reason and leaves the node unconfigured
    assert set_parameter(client, "model", str(tmp_path / "missing.safetensors")).successful
    assert not change(Transition.TRANSITION_CONFIGURE)
    assert "missing.safetensors" in log.read_text()
    assert call(client, GetState, get_state, GetState.Request()).current_state.label \
        == "unconfigured"
    assert stop(proc) == 0


def test_bad_values_of_the_new_parameters_are_rejected_with_the_reason(node, client):
    proc, log = node()
    for name, value, reason in (
            ("mode", "sometimes", "mode must be one of"),
            ("backend", "tensorrt", "backend must be one of"),
            ("static_rotation_xyzw", [0.0, 0.0, 0.0, 2.0], "unit quaternion"),
            ("static_translation_m", [0.0, 1.0], "3 finite numbers"),
            ("target_transform", "magic", "target_transform must be one of"),
            ("opening", "guess", "opening mode must be one of"),
            ("opening", "measured", "needs a height-map model"),   # a depth-crop model
            ("opening_clearance_m", 0.1, "below the maximum opening"),
            ("mask_id", 70000, "")):   # outside the declared range: rclpy's own reason
        result = set_parameter(client, name, value)
        assert not result.successful and reason in result.reason, (name, result.reason)
    assert proc.poll() is None
