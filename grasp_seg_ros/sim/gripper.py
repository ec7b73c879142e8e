"""A parallel-jaw gripper in PyBullet and one grasp trial with it.

The palm is moved kinematically through a fixed constraint; the two fingers are prismatic
joints driven with limited force, so they stop on what they squeeze. World frame: z up.
A trial: open, descend vertically with the fingers straddling the grasp, close, lift, hold
(optionally shake); success = the object is lifted and still held at the end.
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
        shake: shake the gripper after lifting.
    """

    depth_below_surface_m: float = 0.02
    clearance_m: float = 0.004
    approach_m: float = 0.12
    opening_margin_m: float = 0.02
    lift_m: float = 0.15
    shake: bool = False


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
                                    spinningFriction=0.002, physicsClientId=client)
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

    def _move(self, start, end, orn, steps: int) -> None:
        for t in np.linspace(0.0, 1.0, steps):
            pos = (1 - t) * np.asarray(start) + t * np.asarray(end)
            pybullet.changeConstraint(self.constraint, pos.tolist(), orn, maxForce=2000,
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
                table_z_m: float = 0.0, remove_held: bool = False) -> int | None:
        """Run one grasp; return the body id lifted and held, or None.

        With ``remove_held`` a lifted object is taken out of the world (picking in clutter);
        otherwise it drops back when the gripper parks.
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
        self._move(above, at, orn, 120)
        self._set_opening(0.0)
        self._hold(120)
        held = self._held_body()
        lifted = [grasp.x_m, grasp.y_m, palm_z + trial.lift_m]
        self._move(at, lifted, orn, 240)
        if trial.shake:
            for dx in (0.03, -0.03, 0.03, -0.03, 0.0):
                self._move(lifted, [lifted[0] + dx, lifted[1], lifted[2]], orn, 30)
        self._hold(120)
        result = None
        if held is not None and self.touching(held):
            z = pybullet.getBasePositionAndOrientation(held, physicsClientId=self.client)[0][2]
            if z > table_z_m + 0.5 * trial.lift_m:
                result = held
        if result is not None and remove_held:
            pybullet.removeBody(result, physicsClientId=self.client)
        self.park()
        return result

    def _held_body(self) -> int | None:
        """The body both fingers touch, if any."""
        bodies = [{contact[2] for contact in pybullet.getContactPoints(
                      bodyA=self.body, linkIndexA=link, physicsClientId=self.client)}
                  for link in (0, 1)]
        common = bodies[0] & bodies[1]
        return min(common) if common else None
