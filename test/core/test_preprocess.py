import numpy as np
import pytest

from grasp_seg_ros.core.errors import InvalidDepth
from grasp_seg_ros.core.preprocess import (CropSpec, InputNormalisation, crop_and_resize,
                                           inpaint_depth, preprocess)


@pytest.mark.parametrize("spec", [CropSpec(300), CropSpec(400, 20, -30), CropSpec(150, -10, 5)])
def test_crop_mapping_round_trip(spec):
    crop = spec.locate(480, 640)
    rows, cols = np.meshgrid(np.arange(0, 300, 7.5), np.arange(0, 300, 11.0))
    r, c = crop.to_image(rows, cols)
    back = crop.from_image(r, c)
    np.testing.assert_allclose(back[0], rows, atol=1e-9)
    np.testing.assert_allclose(back[1], cols, atol=1e-9)


def test_crop_mapping_finds_the_source_pixel():
    """A marked image pixel shows up in the network map where to_image says it comes from."""
    spec = CropSpec(400, 15, -25)
    depth = np.full((480, 640), 1.0, np.float32)
    depth[200:206, 300:306] = 0.5  # a 6x6 px patch
    crop = spec.locate(480, 640)
    resized = crop_and_resize(depth, crop)
    rows, cols = np.nonzero(resized < 0.9)
    r, c = crop.to_image(rows.mean(), cols.mean())
    assert r == pytest.approx(202.5, abs=0.6) and c == pytest.approx(302.5, abs=0.6)


def test_crop_that_does_not_fit_is_rejected():
    with pytest.raises(InvalidDepth, match="does not fit in a 320x240 image"):
        CropSpec(300).locate(240, 320)


def test_inpainting_fills_holes_including_the_border():
    depth = np.tile(np.linspace(0.5, 0.8, 100, dtype=np.float32), (100, 1))
    holey = depth.copy()
    holey[0:5, :] = np.nan      # touches the border
    holey[40:50, 40:50] = np.nan
    filled, mask = inpaint_depth(holey)
    assert mask.sum() == 5 * 100 + 100 and not np.isnan(filled).any()
    np.testing.assert_allclose(filled[40:50, 40:50], depth[40:50, 40:50], atol=0.02)
    np.testing.assert_array_equal(filled[~mask], depth[~mask])


def test_no_holes_means_no_change():
    depth = np.random.default_rng(0).uniform(0.3, 0.9, (50, 50)).astype(np.float32)
    filled, mask = inpaint_depth(depth)
    assert not mask.any() and filled is depth


def test_nan_aware_resize_does_not_leak_holes():
    depth = np.full((480, 640), 0.6, np.float32)
    depth[::2, ::2] = np.nan  # a quarter of the pixels missing everywhere
    out = crop_and_resize(depth, CropSpec(450).locate(480, 640))
    assert not np.isnan(out).any()
    np.testing.assert_allclose(out, 0.6, atol=1e-6)


def test_preprocess_normalises_and_rejects_empty_frames():
    depth = np.full((480, 640), 0.6, np.float32)
    depth[200:260, 300:360] = 0.5
    pre = preprocess(depth, CropSpec(300), InputNormalisation())
    assert pre.net_input.shape == (300, 300)
    assert abs(float(pre.net_input.mean())) < 1e-5
    with pytest.raises(InvalidDepth, match="valid depth"):
        preprocess(np.full((480, 640), np.nan, np.float32), CropSpec(300), InputNormalisation())


@pytest.mark.parametrize("spec,shape", [(CropSpec(300, 0, 0), (480, 640)),
                                        (CropSpec(420, -20, 35), (480, 640)),
                                        (CropSpec(150, 10, -40), (480, 640))])
def test_crop_maps_rectangles_to_the_network_and_back(spec, shape):
    from grasp_seg_ros.core.rectangles import GraspRectangle
    crop = spec.locate(*shape)
    rect = GraspRectangle(233.0, 301.5, 0.4, 60.0, 20.0)
    net = crop.rectangle_from_image(rect)
    # the rectangle's corners map like its centre: a crop is a translation and a scale
    corners = np.stack(crop.from_image(*rect.corners().T), axis=1)
    np.testing.assert_allclose(net.corners(), corners, atol=1e-9)
    back = crop.rectangle_to_image(net)
    np.testing.assert_allclose([back.row, back.col, back.angle_rad, back.opening_px,
                                back.jaw_px], [233.0, 301.5, 0.4, 60.0, 20.0], atol=1e-9)
