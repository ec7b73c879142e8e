"""PSPNet variants: shapes, aux output, context modules, loading ImageNet-style trunk weights."""

import pytest
import torch
import torchvision

from grasp_seg_ros.core.errors import ModelFileError
from grasp_seg_ros.nets import get_model
from grasp_seg_ros.nets.fast import optimise_for_inference
from grasp_seg_ros.nets.pspnet import PSPNet


@pytest.mark.parametrize("arch, kwargs", [
    ("pspnet_r18", {}),
    ("pspnet_r18", {"context": "aspp"}),
    ("pspnet_r18", {"output_stride": 16, "bins": (1, 2, 4, 8)}),
    ("pspnet_r50", {"output_stride": 16}),
    ("pspnet_r101", {"output_stride": 16}),
])
def test_variant_gives_maps_and_aux_at_input_size(arch, kwargs):
    torch.manual_seed(0)
    model = get_model(arch, **kwargs)
    x = torch.randn(2, 1, 300, 300)
    for mode in (model.train, model.eval):   # the same dict in training and evaluation
        mode()
        with torch.no_grad():
            out = model(x)
        assert set(out) == {"out", "aux"}
        assert out["out"].shape == out["aux"].shape == (2, 4, 300, 300)
        assert torch.isfinite(out["out"]).all()


def test_aux_can_be_left_out():
    out = get_model("pspnet_r18", aux=False, output_stride=16).eval()(torch.randn(1, 1, 96, 96))
    assert set(out) == {"out"} and out["out"].shape == (1, 4, 96, 96)


def test_output_stride_8_keeps_more_resolution():
    m8 = get_model("pspnet_r18", output_stride=8)
    m16 = get_model("pspnet_r18", output_stride=16)
    x = torch.randn(1, 1, 96, 96)
    f8 = m8.layer4(m8.layer3(m8.layer2(m8.layer1(m8.stem(m8.adapter(x))))))
    f16 = m16.layer4(m16.layer3(m16.layer2(m16.layer1(m16.stem(m16.adapter(x))))))
    assert f8.shape[-1] == 12 and f16.shape[-1] == 6


def test_bad_options_are_rejected():
    for kwargs, word in (({"output_stride": 32}, "output_stride"), ({"context": "fpn"}, "context"),
                         ({"backbone": "vgg"}, "backbone")):
        with pytest.raises(ValueError, match=word):
            PSPNet(**kwargs)


def test_local_imagenet_state_dict_loads_into_the_trunk(tmp_path):
    torch.manual_seed(1)
    resnet = torchvision.models.resnet18(weights=None)   # stands in for ImageNet weights
    path = tmp_path / "resnet18_imagenet.pth"
    torch.save(resnet.state_dict(), path)
    model = get_model("pspnet_r18", trunk_weights=str(path))
    torch.testing.assert_close(model.stem[0].weight, resnet.conv1.weight)
    torch.testing.assert_close(model.layer4[1].conv2.weight, resnet.layer4[1].conv2.weight)
    with pytest.raises(ModelFileError, match="do not fit"):
        get_model("pspnet_r50", trunk_weights=str(path))
    with pytest.raises(ModelFileError, match="missing.pth"):
        get_model("pspnet_r18", trunk_weights=str(tmp_path / "missing.pth"))


def test_fast_rewrite_keeps_pspnet_outputs():
    torch.manual_seed(2)
    model = get_model("pspnet_r18", output_stride=16).eval()
    x = torch.randn(1, 1, 128, 128)
    with torch.no_grad():
        torch.testing.assert_close(optimise_for_inference(model)(x)["out"], model(x)["out"],
                                   rtol=1e-4, atol=1e-4)
