"""A parallel-jaw gripper in PyBullet and one grasp trial with it.

The palm is moved kinematically through a fixed constraint; the two fingers are prismatic
joints driven with limited force, so they stop on what they squeeze. World frame: z up.
A trial: open, descend vertically with the fingers straddling the grasp, close, lift, then
(realistic profiles) shake and rotate the wrist, hold; success = the object is lifted and
still held at the end.

Profiles (``GRIPPERS``, chosen by name everywhere: labels, sim-eval, the angle probe):

- ``robotiq_2f85`` (the default): 85 mm stroke, 22 mm wide silicone pads, 60 N.
- ``franka``: the Franka Hand: 80 mm stroke, narrow 18 mm fingertips, 70 N continuous.
- ``legacy``: the gripper the first labels were made with: 140 mm opening, 40 N, friction
  1.2 and no shake or wrist rotation. It lifts most objects from almost any direction, so
  labels made with it say little about orientation; kept to compare against.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pybullet


@dataclass(frozen=True)
class GripperConfig:
    """Geometry and strength of the gripper (metres, newtons).

    Args:
        max_opening_m: widest finger opening.
        finger_half_m: finger half extents (thickness along closing, jaw along y, height).
        grip_force_n: force limit of each finger motor.
        friction: lateral friction of the fingers.
    """

    max_opening_m: float = 0.14
    finger_half_m: tuple[float, float, float] = (0.005, 0.01, 0.03)
    palm_half_m: tuple[float, float, float] = (0.08, 0.015, 0.01)
    grip_force_n: float = 40.0
    friction: float = 1.2
    #: torsional friction of the pad contact (resists an object swinging about the closing
    #: axis when held off its centre of mass); larger for wide soft pads
    spinning_friction: float = 0.002
    name: str = "legacy"

    @property
    def tip_below_palm_m(self) -> float:
        """Distance from the palm's centre down to the finger tips."""
        return self.palm_half_m[2] + 2 * self.finger_half_m[2]

    @property
    def jaw_m(self) -> float:
        return 2 * self.finger_half_m[1]


@dataclass(frozen=True)
class TrialConfig:
    """How a grasp is executed and judged.

    Args:
        depth_below_surface_m: how far below the grasped surface the finger tips go.
        clearance_m: the finger tips never go lower than this above the table.
        approach_m: start this far above the final pose.
        opening_margin_m: the fingers open this much wider than the predicted width.
        lift_m: lift height; success needs the object raised by at least half of it.
        shake: shake the gripper sideways (+-3 cm at 0.24 m/s) after lifting.
        rotate_wrist: then turn the wrist 90 deg about the approach axis and tip it 30 deg
            about the closing axis and back: an object held far from its centre of mass, or
            on a sliver, swings out.
        early_reject: stop a trial when, after closing, the fingers do not both touch one
            body (it cannot succeed; saves the lift).
        time_scale: multiplies every phase's number of physics steps; 0.5 runs each move at
            twice the speed (labelling uses it: harsher accelerations, half the cost).
    """

    depth_below_surface_m: float = 0.02
    clearance_m: float = 0.004
    approach_m: float = 0.12
    opening_margin_m: float = 0.02
    lift_m: float = 0.15
    shake: bool = False
    rotate_wrist: bool = False
    early_reject: bool = True
    time_scale: float = 1.0

    def steps(self, n: int) -> int:
        return max(2, int(round(n * self.time_scale)))


@dataclass(frozen=True)
class GripperProfile:
    """A named gripper and how a trial with it is run and judged."""

    name: str
    gripper: GripperConfig
    trial: TrialConfig
    #: opening added to an object's extent when labelling (and expected of a predicted width)
    clearance_m: float

    @property
    def stroke_m(self) -> float:
        return self.gripper.max_opening_m


#: Real grippers' stroke, pad size, force and pad friction (datasheets; friction of silicone
#: or rubber pads on plastic, wood and cardboard, combined with the object's own by PyBullet's
#: product rule), and the gripper the first labels were made with.
GRIPPERS: dict[str, GripperProfile] = {
    "robotiq_2f85": GripperProfile(
        "robotiq_2f85",
        GripperConfig(max_opening_m=0.085, finger_half_m=(0.004, 0.011, 0.02),
                      palm_half_m=(0.055, 0.03, 0.012), grip_force_n=60.0, friction=1.0,
                      spinning_friction=0.01, name="robotiq_2f85"),
        TrialConfig(depth_below_surface_m=0.035, opening_margin_m=0.015, shake=True,
                    rotate_wrist=True), 0.015),
    "franka": GripperProfile(
        "franka",
        GripperConfig(max_opening_m=0.08, finger_half_m=(0.005, 0.009, 0.027),
                      palm_half_m=(0.05, 0.02, 0.012), grip_force_n=70.0, friction=0.9,
                      spinning_friction=0.005, name="franka"),
        TrialConfig(depth_below_surface_m=0.035, opening_margin_m=0.015, shake=True,
                    rotate_wrist=True), 0.015),
    "legacy": GripperProfile("legacy", GripperConfig(), TrialConfig(), 0.02),
}
DEFAULT_GRIPPER = "robotiq_2f85"


def gripper_profile(name: str) -> GripperProfile:
    """The profile of a gripper name; the error lists the known ones."""
    if name not in GRIPPERS:
        raise ValueError(f"unknown gripper '{name}'; known: {sorted(GRIPPERS)}")
    return GRIPPERS[name]


@dataclass(frozen=True)
class WorldGrasp:
    """A top-down grasp in the world frame."""

    x_m: float
    y_m: float
    surface_z_m: float
    yaw_rad: float     #: direction of the closing axis in the table plane, from world +x
    width_m: float


class Gripper:
    """Creates the gripper in a client, away from the scene until a trial moves it in."""

    PARK = (0.0, 0.0, 2.0)

    def __init__(self, client: int, config: GripperConfig = GripperConfig()) -> None:
        self.client = client
        self.config = config
        c = config
        palm = pybullet.createCollisionShape(pybullet.GEOM_BOX, halfExtents=c.palm_half_m,
                                             physicsClientId=client)
        finger = pybullet.createCollisionShape(pybullet.GEOM_BOX, halfExtents=c.finger_half_m,
                                               physicsClientId=client)
        finger_z = -(c.palm_half_m[2] + c.finger_half_m[2])
        self.body = pybullet.createMultiBody(
            baseMass=0.5, baseCollisionShapeIndex=palm, basePosition=self.PARK,
            linkMasses=[0.05, 0.05], linkCollisionShapeIndices=[finger, finger],
            linkVisualShapeIndices=[-1, -1],
            linkPositions=[[0, 0, finger_z], [0, 0, finger_z]],
            linkOrientations=[[0, 0, 0, 1]] * 2,
            linkInertialFramePositions=[[0, 0, 0]] * 2,
            linkInertialFrameOrientations=[[0, 0, 0, 1]] * 2,
            linkParentIndices=[0, 0],
            linkJointTypes=[pybullet.JOINT_PRISMATIC] * 2,
            linkJointAxis=[[1, 0, 0], [1, 0, 0]], physicsClientId=client)
        for link in (-1, 0, 1):
            pybullet.changeDynamics(self.body, link, lateralFriction=c.friction,
                                    spinningFriction=c.spinning_friction,
                                    physicsClientId=client)
        #: how the last trial ended: 'held', or the phase in which it failed ('closed on
        #: nothing', 'one finger touched', 'fingers on different objects', 'dropped while
        #: lifting', 'dropped in the shake', 'dropped in the wrist turn', 'not raised':
        #: still touched at the end but below half the lift)
        self.last_outcome = ""
        self.constraint = pybullet.createConstraint(
            self.body, -1, -1, -1, pybullet.JOINT_FIXED, [0, 0, 0], [0, 0, 0],
            childFramePosition=self.PARK, physicsClientId=client)

    # -- low-level moves --------------------------------------------------------------------
    def _set_opening(self, opening_m: float, *, reset: bool = False) -> None:
        half = 0.5 * min(opening_m, self.config.max_opening_m)
        for joint, target in ((0, -half), (1, half)):
            if reset:
                pybullet.resetJointState(self.body, joint, target, physicsClientId=self.client)
            pybullet.setJointMotorControl2(self.body, joint, pybullet.POSITION_CONTROL,
                                           targetPosition=target,
                                           force=self.config.grip_force_n,
                                           maxVelocity=0.2, physicsClientId=self.client)

    def _place(self, pos, orn) -> None:
        pybullet.resetBasePositionAndOrientation(self.body, pos, orn,
                                                 physicsClientId=self.client)
        pybullet.changeConstraint(self.constraint, pos, orn, maxForce=2000,
                                  physicsClientId=self.client)

    def _move(self, start, end, orn, steps: int, end_orn=None) -> None:
        for t in np.linspace(0.0, 1.0, steps):
            pos = (1 - t) * np.asarray(start) + t * np.asarray(end)
            o = orn if end_orn is None else pybullet.getQuaternionSlerp(orn, end_orn, t)
            pybullet.changeConstraint(self.constraint, pos.tolist(), o, maxForce=2000,
                                      physicsClientId=self.client)
            pybullet.stepSimulation(physicsClientId=self.client)

    def _hold(self, steps: int) -> None:
        for _ in range(steps):
            pybullet.stepSimulation(physicsClientId=self.client)

    def opening_m(self) -> float:
        q = [pybullet.getJointState(self.body, j, physicsClientId=self.client)[0]
             for j in (0, 1)]
        return float(q[1] - q[0])

    def touching(self, body: int) -> bool:
        return all(pybullet.getContactPoints(self.body, body, linkIndexA=link,
                                             physicsClientId=self.client)
                   for link in (0, 1))

    def park(self) -> None:
        self._place(self.PARK, [0, 0, 0, 1])
        self._set_opening(self.config.max_opening_m, reset=True)

    # -- a trial -----------------------------------------------------------------------------
    def execute(self, grasp: WorldGrasp, trial: TrialConfig = TrialConfig(), *,
                table_z_m: float = 0.0) -> int | None:
        """Run one grasp; return the body id lifted and held, or None.

        A lifted object drops back when the gripper parks (``Scene.remove`` takes it out of
        the world, as picking in clutter does).
        """
        c = self.config
        tip_z = max(grasp.surface_z_m - trial.depth_below_surface_m,
                    table_z_m + trial.clearance_m)
        palm_z = tip_z + c.tip_below_palm_m
        orn = pybullet.getQuaternionFromEuler([0.0, 0.0, grasp.yaw_rad])
        above = [grasp.x_m, grasp.y_m, palm_z + trial.approach_m]
        at = [grasp.x_m, grasp.y_m, palm_z]
        self._place(above, orn)
        self._set_opening(grasp.width_m + trial.opening_margin_m, reset=True)
        self._hold(10)
        self._move(above, at, orn, trial.steps(1000 * trial.approach_m))  # 0.24 m/s
        self._set_opening(0.0)
        # the fingers close at 0.2 m/s each: whatever the time scale, give them time to
        # travel to an object at least 80% of the grasp's width, and to settle
        opening = min(grasp.width_m + trial.opening_margin_m, c.max_opening_m)
        travel_m = max(opening - 0.8 * grasp.width_m, 0.0) / 2
        self._hold(max(trial.steps(120), int(1200 * travel_m) + 20))
        touched = self._touched()
        held = self._held_body(touched)
        self.last_outcome = _closing_outcome(touched)
        if held is None and trial.early_reject:
            self.park()
            return None
        lifted = [grasp.x_m, grasp.y_m, palm_z + trial.lift_m]
        self._move(at, lifted, orn, trial.steps(1600 * trial.lift_m))  # 0.15 m/s
        if held is not None:
            self.last_outcome = "in hand" if self.touching(held) else "dropped while lifting"
        if trial.early_reject and not self.touching(held):  # dropped on the way up
            self.park()
            return None
        if trial.shake:
            for dx in (0.03, -0.03, 0.03, -0.03, 0.0):
                self._move(lifted, [lifted[0] + dx, lifted[1], lifted[2]], orn, trial.steps(30))
            if self.last_outcome == "in hand" and not self.touching(held):
                self.last_outcome = "dropped in the shake"
        if trial.rotate_wrist:
            turned = pybullet.getQuaternionFromEuler([0.0, 0.0, grasp.yaw_rad + np.pi / 2])
            self._move(lifted, lifted, orn, trial.steps(60), end_orn=turned)
            # tip about the closing axis (the palm's x after the turn) and back
            tipped = pybullet.multiplyTransforms(
                [0, 0, 0], turned, [0, 0, 0],
                pybullet.getQuaternionFromEuler([np.radians(30), 0.0, 0.0]))[1]
            self._move(lifted, lifted, turned, trial.steps(40), end_orn=tipped)
            self._move(lifted, lifted, tipped, trial.steps(40), end_orn=turned)
            if self.last_outcome == "in hand" and not self.touching(held):
                self.last_outcome = "dropped in the wrist turn"
        self._hold(trial.steps(120))
        result = None
        if held is not None and self.touching(held):
            z = pybullet.getBasePositionAndOrientation(held, physicsClientId=self.client)[0][2]
            if z > table_z_m + 0.5 * trial.lift_m:
                result = held
        if self.last_outcome == "in hand":
            self.last_outcome = "held" if result is not None else "not raised"
        self.park()
        return result

    def _touched(self) -> tuple[set[int], set[int]]:
        """The movable bodies each finger touches (a finger tip resting on the table or a
        tray's floor touches a static body too: that is never the one held)."""
        a, b = ({contact[2] for contact in pybullet.getContactPoints(
                     bodyA=self.body, linkIndexA=link, physicsClientId=self.client)
                 if pybullet.getDynamicsInfo(contact[2], -1,
                                             physicsClientId=self.client)[0] > 0.0}
                for link in (0, 1))
        return a, b

    @staticmethod
    def _held_body(touched: tuple[set[int], set[int]]) -> int | None:
        """The movable body both fingers touch, if any."""
        common = sorted(touched[0] & touched[1])
        return common[0] if common else None


def _closing_outcome(touched: tuple[set[int], set[int]]) -> str:
    """How closed fingers that touch ``touched`` stand: 'in hand' (one body between them),
    or why they hold none: nothing between them, one finger only, each on another object."""
    a, b = touched
    if a & b:
        return "in hand"
    if not a and not b:
        return "closed on nothing"
    return "fingers on different objects" if a and b else "one finger touched"
