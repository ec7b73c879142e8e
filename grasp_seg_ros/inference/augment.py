"""Test-time augmentation: the network run on its input mirrored and/or turned by multiples
of 90 deg, each output turned back (the maps and the closing angles) and the raw outputs
averaged before decoding.

A parallel-jaw grasp turned with the map is the same grasp. In the input's (row, col) cells,
with core.grasp's angle convention: mirroring the columns takes a closing angle ``a`` to
``-a``; np.rot90 by ``k`` takes it to ``a + k x 90 deg``. The networks saw turns and mirrors
only as training augmentation and are not exactly equivariant, so views of one scene disagree
a little; their mean smooths those errors. Each view costs one forward pass.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from grasp_seg_ros.core.grasp import OutputScaling

#: the views of each mode: (quarter turns k, mirrored first)
AUGMENTS: dict[str, tuple[tuple[int, bool], ...]] = {
    "none": ((0, False),),
    "half_turn": ((0, False), (2, False)),
    "mirror": ((0, False), (0, True)),
    "rotations": tuple((k, False) for k in range(4)),
    "rotations_mirror": tuple((k, m) for m in (False, True) for k in range(4)),
}


def check_augment_name(augment: str) -> None:
    """Raise ValueError, with the reason, for a mode that does not exist."""
    if augment not in AUGMENTS:
        raise ValueError(f"augment must be one of {tuple(AUGMENTS)}, got '{augment}'")


def check_augment(augment: str, scaling: OutputScaling) -> None:
    """Raise ValueError, with the reason, for a mode this head cannot be augmented with."""
    check_augment_name(augment)
    bins = scaling.angle_bins
    if bins and bins % 2 and any(k % 2 for k, _ in AUGMENTS[augment]):
        raise ValueError(f"augment '{augment}' turns the input by 90 deg, which an odd number "
                         f"of angle bins ({bins}) cannot follow; use 'mirror'")


def view(net_input: np.ndarray, k: int, mirrored: bool) -> np.ndarray:
    """The (S, S) input mirrored (columns reversed), then turned by ``k`` x 90 deg."""
    x = net_input[:, ::-1] if mirrored else net_input
    return np.ascontiguousarray(np.rot90(x, k))


def bin_order(bins: int, k: int, mirrored: bool) -> np.ndarray:
    """For each bin of the input's frame, the bin of the view's output that rates the same
    closing direction. Bin i's direction is -90 deg + i x 180/bins."""
    i = np.arange(bins)
    shift = k * bins // 2
    return ((bins - i + shift) if mirrored else (i + shift)) % bins


def to_input_frame(raw: np.ndarray, k: int, mirrored: bool,
                   scaling: OutputScaling) -> np.ndarray:
    """A view's raw output (C, S, S) back in the input's cells and angles."""
    r = np.rot90(raw, -k, axes=(1, 2))
    if mirrored:
        r = r[:, :, ::-1]
    bins = scaling.angle_bins
    if bins:
        return np.concatenate([r[:bins][bin_order(bins, k, mirrored)], r[bins:]])
    # quality, cos 2a, sin 2a, width: 2a_view = +-2a + k x 180 deg
    cos_sign = -1.0 if k % 2 else 1.0
    sin_sign = cos_sign * (-1.0 if mirrored else 1.0)
    return np.stack([r[0], cos_sign * r[1], sin_sign * r[2], *r[3:]])


def augmented_forward(backend: Callable[[np.ndarray], np.ndarray], net_input: np.ndarray,
                      scaling: OutputScaling, augment: str) -> np.ndarray:
    """The backend's raw output for ``net_input``, averaged over the views of ``augment``."""
    views = AUGMENTS[augment]
    if len(views) == 1:
        return backend(net_input)
    if net_input.shape[0] != net_input.shape[1]:
        raise ValueError(f"test-time augmentation needs a square input, got {net_input.shape}")
    total = None
    for k, mirrored in views:
        out = to_input_frame(np.asarray(backend(view(net_input, k, mirrored)), np.float32),
                             k, mirrored, scaling)
        total = out.copy() if total is None else total + out
    return total / np.float32(len(views))
