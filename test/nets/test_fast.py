"""nets.fast rewrites compute what the trained modules compute."""

import pytest
import torch
from torch import nn

from grasp_seg_ros.nets import get_model, list_models
from grasp_seg_ros.nets.fast import (FusedHeads, SubPixelConvTranspose2d,
                                     optimise_for_inference)


@pytest.mark.parametrize("c_in, c_out, k, s, p, op", [
    (8, 8, 3, 2, 1, 1), (8, 16, 5, 2, 2, 1), (16, 32, 9, 3, 3, 1),  # GG-CNN's decoder
    (4, 5, 4, 2, 0, 0), (3, 2, 3, 3, 0, 2), (3, 2, 2, 3, 1, 2),     # uneven and bias-only edges
])
@pytest.mark.parametrize("relu", [False, True])
def test_sub_pixel_convolution_equals_transposed_convolution(c_in, c_out, k, s, p, op, relu):
    torch.manual_seed(k * 10 + s)
    tconv = nn.ConvTranspose2d(c_in, c_out, k, stride=s, padding=p, output_padding=op)
    x = torch.randn(2, c_in, 7, 9)
    with torch.no_grad():
        expected = torch.relu(tconv(x)) if relu else tconv(x)
        got = SubPixelConvTranspose2d(tconv, relu=relu)(x)
    assert got.shape == expected.shape
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
    if relu:  # the folded activation hands on a dense tensor, not a strided crop
        assert got.is_contiguous()


def test_relu_after_a_transposed_convolution_is_folded_and_the_graph_traces():
    model = get_model("ggcnn").eval()
    fast = optimise_for_inference(model)
    folded = [m for m in fast.modules() if isinstance(m, SubPixelConvTranspose2d)]
    assert len(folded) == 3 and all(m.relu for m in folded)
    assert sum(isinstance(m, nn.ReLU) for m in fast.modules()) == 3   # the encoder's
    # no shape-dependent branches: symbolic tracing (FX, export) goes through
    traced = torch.fx.symbolic_trace(fast)
    x = torch.randn(1, 1, 300, 300)
    with torch.inference_mode():
        torch.testing.assert_close(traced(x)["out"], fast(x)["out"])


@pytest.mark.parametrize("arch", list_models())
def test_optimised_model_gives_the_same_maps(arch):
    torch.manual_seed(0)
    model = (get_model(arch, output_stride=16) if arch.startswith("pspnet")
             else get_model(arch)).eval()
    fast = optimise_for_inference(model)
    assert not any(isinstance(m, nn.ConvTranspose2d) for m in fast.modules())
    assert any(isinstance(m, FusedHeads) for m in fast.modules())
    x = torch.randn(2, 1, 300, 300)
    with torch.inference_mode():
        fast_out, expected = fast(x), model(x)["out"]
    got = fast_out["out"]
    assert set(fast_out) == {"out"}          # PSPNet's training-only aux head is not run
    # deep random-weight ResNets reach large activations: compare relative to their scale
    # (channels-last picks other convolution kernels, which sum in another order)
    scale = float(expected.abs().max())
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5 * max(scale, 1.0))
    # the trained module is untouched
    assert any(isinstance(m, nn.ConvTranspose2d) for m in model.modules()) or arch != "ggcnn"
