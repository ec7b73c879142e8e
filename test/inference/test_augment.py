"""Test-time augmentation: views of the input, turned back with their closing angles."""

import cv2
import numpy as np
import pytest

from grasp_seg_ros.core.grasp import Grasp2D, OutputScaling, bin_angles
from grasp_seg_ros.inference.augment import (AUGMENTS, augmented_forward, bin_order,
                                             check_augment, to_input_frame, view)

S = 24


def move_point(point, k: int, mirrored: bool):
    """Where a (row, col) point of the input lies in view(input, k, mirrored)."""
    r, c = point
    if mirrored:
        c = S - 1 - c
    for _ in range(k):          # np.rot90: (r, c) -> (S - 1 - c, r)
        r, c = S - 1 - c, r
    return np.array([r, c])


@pytest.mark.parametrize("bins", [12, 18])
@pytest.mark.parametrize("k, mirrored", AUGMENTS["rotations_mirror"])
def test_a_bin_follows_the_fingers_into_the_view(bins, k, mirrored):
    """The bin a view's output rates a grasp in is the one whose fingers land where the
    input's fingers moved (the angle convention of core.grasp, not an assumed one)."""
    angles = bin_angles(bins)
    order = bin_order(bins, k, mirrored)
    for i, angle in enumerate(angles):
        tips = Grasp2D(7, 11, float(angle), 8.0, 1.0).finger_points()
        moved = {tuple(np.round(move_point(p, k, mirrored), 6)) for p in tips}
        centre = move_point((7, 11), k, mirrored)
        there = Grasp2D(int(centre[0]), int(centre[1]), float(angles[order[i]]), 8.0, 1.0)
        assert {tuple(np.round(p, 6)) for p in there.finger_points()} == moved, (i, order[i])


def finger_sampler(bins: int):
    """A network that is exactly equivariant to quarter turns and mirrors: the quality of a
    closing direction is the input sampled (bilinearly) at its two finger tips."""
    angles = bin_angles(bins)
    rows, cols = np.mgrid[0:S, 0:S].astype(np.float32)

    def net(x: np.ndarray) -> np.ndarray:
        out = []
        for a in angles:
            d = 3.0 * np.array([-np.sin(a), np.cos(a)], np.float32)
            q = sum(cv2.remap(np.asarray(x, np.float32), cols + s * d[1], rows + s * d[0],
                              cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
                    for s in (-1.0, 1.0))
            out.append(q)
        return np.stack(out + [np.asarray(x, np.float32)])      # width: the input itself
    return net


def cos_sin_head(bins_net):
    """The same network read out as quality, cos 2a, sin 2a, width."""
    angles = bin_angles(12)

    def net(x):
        b = bins_net(x)
        q = b[:12]
        return np.stack([q.max(axis=0), np.tensordot(np.cos(2 * angles), q, 1),
                         np.tensordot(np.sin(2 * angles), q, 1), b[12]])
    return net


@pytest.mark.parametrize("augment", list(AUGMENTS))
def test_an_equivariant_network_answers_the_same_under_every_augmentation(augment):
    x = np.random.default_rng(3).uniform(0.0, 1.0, (S, S)).astype(np.float32)
    for scaling, net in ((OutputScaling(50.0, 12), finger_sampler(12)),
                         (OutputScaling(50.0, 18), finger_sampler(18)),
                         (OutputScaling(50.0, 0), cos_sin_head(finger_sampler(12)))):
        np.testing.assert_allclose(augmented_forward(net, x, scaling, augment), net(x),
                                   atol=1e-5)


def test_views_are_averaged_and_each_turned_back():
    """A network that is not equivariant: the mean of its views turned back, not its answer."""
    rng = np.random.default_rng(4)
    fixed = rng.uniform(0.0, 1.0, (13, S, S)).astype(np.float32)   # ignores its input
    scaling = OutputScaling(50.0, 12)
    out = augmented_forward(lambda x: fixed, np.zeros((S, S), np.float32), scaling, "mirror")
    expected = 0.5 * (fixed + to_input_frame(fixed, 0, True, scaling))
    np.testing.assert_allclose(out, expected, atol=1e-6)
    assert not np.allclose(out, fixed)
    calls = []
    augmented_forward(lambda x: calls.append(x.copy()) or fixed, np.arange(S * S, dtype=np.float32)
                      .reshape(S, S), scaling, "rotations_mirror")
    assert len(calls) == 8 and all(c.flags.c_contiguous for c in calls)
    np.testing.assert_array_equal(calls[5], view(calls[0], 1, True))


def test_modes_a_head_cannot_follow_are_refused():
    check_augment("rotations_mirror", OutputScaling(50.0, 12))
    check_augment("mirror", OutputScaling(50.0, 15))
    with pytest.raises(ValueError, match="odd number of angle bins"):
        check_augment("rotations", OutputScaling(50.0, 15))
    with pytest.raises(ValueError, match="augment must be one of"):
        check_augment("flip", OutputScaling(50.0, 12))
    with pytest.raises(ValueError, match="square input"):
        augmented_forward(lambda x: x[None], np.zeros((S, S + 2), np.float32),
                          OutputScaling(50.0, 12), "mirror")
