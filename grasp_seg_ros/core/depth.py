"""Depth payloads (as carried by sensor_msgs/Image) to metres and back.

Conventions: depth in metres, float32, invalid pixels are NaN.
``16UC1`` (and its alias ``mono16``) holds millimetres, 0 = invalid; ``32FC1`` holds metres,
0 or NaN = invalid. A positive ``depth_scale`` overrides the encoding's unit (metres per count).
"""

from __future__ import annotations

import numpy as np

from grasp_seg_ros.core.errors import InvalidDepth

#: metres per stored count for each supported encoding
DEPTH_ENCODINGS: dict[str, tuple[np.dtype, float]] = {
    "16UC1": (np.dtype(np.uint16), 0.001),
    "mono16": (np.dtype(np.uint16), 0.001),
    "32FC1": (np.dtype(np.float32), 1.0),
}


def depth_from_buffer(
    data: bytes | bytearray | memoryview | np.ndarray,
    *,
    encoding: str,
    height: int,
    width: int,
    step: int,
    is_bigendian: bool = False,
    depth_scale: float = 0.0,
    valid_range_m: tuple[float, float] = (0.0, np.inf),
) -> np.ndarray:
    """Decode a raw depth payload into a (height, width) float32 array in metres, NaN = invalid.

    Depths outside ``valid_range_m`` (exclusive of 0) become NaN too: no sensor measures
    3e38 m. Raises InvalidDepth with the offending values when the payload cannot be a
    depth image.
    """
    if encoding not in DEPTH_ENCODINGS:
        raise InvalidDepth(
            f"unsupported depth encoding '{encoding}'; expected one of {sorted(DEPTH_ENCODINGS)}")
    dtype, unit_m = DEPTH_ENCODINGS[encoding]
    if height <= 0 or width <= 0:
        raise InvalidDepth(f"empty depth image ({height}x{width})")
    row_bytes = width * dtype.itemsize
    if step < row_bytes:
        raise InvalidDepth(
            f"step {step} is smaller than width {width} x {dtype.itemsize} bytes = {row_bytes}")
    buf = np.frombuffer(data, dtype=np.uint8) if not isinstance(data, np.ndarray) \
        else data.reshape(-1).view(np.uint8)
    if buf.size != height * step:
        raise InvalidDepth(
            f"data holds {buf.size} bytes but height {height} x step {step} = {height * step}")
    rows = buf.reshape(height, step)[:, :row_bytes]
    stored = np.ascontiguousarray(rows).view(dtype.newbyteorder(">" if is_bigendian else "<"))
    depth_m = stored.astype(np.float32)
    scale = depth_scale if depth_scale > 0.0 else unit_m
    if scale != 1.0:
        with np.errstate(over="ignore", invalid="ignore"):  # overflow -> inf -> invalid below
            depth_m *= np.float32(scale)
    # 0 is "no return" for both encodings; negative, infinite and out-of-range depths are
    # sensor garbage
    lo, hi = valid_range_m
    depth_m[~np.isfinite(depth_m) | (depth_m <= 0.0) | (depth_m < lo) | (depth_m > hi)] = np.nan
    return depth_m


def depth_to_buffer(depth_m: np.ndarray, encoding: str = "16UC1") -> tuple[bytes, int]:
    """Encode metres (NaN = invalid) as a little-endian payload; returns (data, step).

    16UC1 rounds to whole millimetres and clips to the uint16 range; invalid becomes 0.
    """
    depth_m = np.asarray(depth_m, dtype=np.float32)
    if depth_m.ndim != 2:
        raise InvalidDepth(f"depth must be 2-D, got shape {depth_m.shape}")
    if encoding in ("16UC1", "mono16"):
        mm = np.nan_to_num(depth_m * 1000.0, nan=0.0, posinf=0.0, neginf=0.0)
        stored = np.clip(np.rint(mm), 0, np.iinfo(np.uint16).max).astype("<u2")
    elif encoding == "32FC1":
        stored = np.nan_to_num(depth_m, nan=0.0, posinf=0.0, neginf=0.0).astype("<f4")
    else:
        raise InvalidDepth(
            f"unsupported depth encoding '{encoding}'; expected one of {sorted(DEPTH_ENCODINGS)}")
    return stored.tobytes(), depth_m.shape[1] * stored.itemsize
