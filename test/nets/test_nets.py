import pytest
import torch

from grasp_seg_ros.nets import get_model, list_models


def build(name):
    # PSPNets at output stride 16 keep the CPU test time down (stride 8: test_pspnet.py)
    return get_model(name, output_stride=16) if name.startswith("pspnet") else get_model(name)


@pytest.mark.parametrize("name", list_models())
def test_every_registered_net_maps_depth_to_four_300px_maps(name):
    model = build(name).eval()
    with torch.no_grad():
        out = model(torch.randn(2, 1, 300, 300))
    assert set(out) == ({"out", "aux"} if name.startswith("pspnet") else {"out"})
    for maps in out.values():
        assert maps.shape == (2, 4, 300, 300)
        assert torch.isfinite(maps).all()


@pytest.mark.parametrize("name", list_models())
def test_every_registered_net_trains(name):
    """Gradients reach every parameter (no dead branch in the architecture)."""
    model = build(name)
    size = 96 if name.startswith("pspnet") else 300
    out = model(torch.randn(2, 1, size, size))
    sum(v.square().mean() for v in out.values()).backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    assert not missing


def test_published_parameter_counts():
    counts = {n: sum(p.numel() for p in get_model(n).parameters()) for n in list_models()}
    assert counts["ggcnn"] == 62420
    assert 60_000 < counts["ggcnn2"] < 70_000


def test_unknown_architecture_names_the_known_ones():
    with pytest.raises(KeyError, match="registered: \\['ggcnn', 'ggcnn2'"):
        get_model("resnet9000")
