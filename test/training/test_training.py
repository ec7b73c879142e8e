import subprocess
import sys

import numpy as np
import pytest
import torch

from grasp_seg_ros.nets import get_model
from grasp_seg_ros.training.losses import grasp_map_losses, total_loss
from grasp_seg_ros.training.synthetic import make_sample
from grasp_seg_ros.training.trainer import TrainConfig, train


@pytest.fixture(scope="module")
def batch():
    pairs = [make_sample(seed) for seed in range(4)]
    return np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])


def test_samples_are_deterministic_and_labelled(batch):
    x0, y0 = make_sample(0)
    np.testing.assert_array_equal(x0, batch[0][0])
    np.testing.assert_array_equal(y0, batch[1][0])
    assert x0.shape == (1, 300, 300) and y0.shape == (4, 300, 300)
    q, cos2, sin2 = y0[0], y0[1], y0[2]
    assert q.sum() > 0
    np.testing.assert_allclose((cos2 ** 2 + sin2 ** 2)[q > 0], 1.0, atol=1e-5)


def test_loss_falls_on_a_fixed_batch(batch):
    torch.manual_seed(0)
    model = get_model("ggcnn")
    x, y = torch.from_numpy(batch[0]), torch.from_numpy(batch[1])
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(15):
        loss = total_loss(grasp_map_losses(model(x)["out"], y))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.8 * losses[0]


def test_non_finite_loss_is_named():
    with pytest.raises(FloatingPointError, match="loss_width is not finite"):
        total_loss({"loss_quality": torch.tensor(1.0), "loss_width": torch.tensor(float("nan"))})


def test_checkpoint_resumes_exactly(batch, tmp_path):
    x, y = batch
    cfg = TrainConfig(epochs=2, batch_size=2, lr=1e-3)
    torch.manual_seed(1)
    straight = get_model("ggcnn")
    train(straight, x, y, cfg)
    torch.manual_seed(1)
    resumed = get_model("ggcnn")
    ckpt = tmp_path / "run.ckpt"
    train(resumed, x, y, cfg, checkpoint=ckpt, stop_after_epochs=1)  # "interrupted"
    # a second call with the full budget picks up at epoch 1 from the checkpoint
    state = torch.load(ckpt, weights_only=True)
    assert state["epoch"] == 1
    torch.manual_seed(123)  # resumption must not depend on the global seed
    fresh = get_model("ggcnn")
    history = train(fresh, x, y, cfg, checkpoint=ckpt)
    assert [h["epoch"] for h in history] == [1, 2]
    for a, b in zip(straight.state_dict().values(), fresh.state_dict().values()):
        torch.testing.assert_close(a, b)


def test_model_card_and_metrics_come_from_the_weight_file(tmp_path):
    from grasp_seg_ros.nets.weights import ModelMetadata, load_weights, save_weights
    from grasp_seg_ros.training.model_card import update_metrics, write_model_card
    torch.manual_seed(0)
    model = get_model("ggcnn")
    path = save_weights(tmp_path / "m.safetensors", model,
                        ModelMetadata("ggcnn", training={"command": "grasp-seg train --x 1",
                                                         "epochs": 3}))
    update_metrics(path, {"rectangle_top1": {"accuracy": 0.5, "scenes": 10}})
    loaded, meta = load_weights(path)
    assert meta.metrics["rectangle_top1"]["accuracy"] == 0.5
    for a, b in zip(model.state_dict().values(), loaded.state_dict().values()):
        torch.testing.assert_close(a, b)
    card = write_model_card(path).read_text()
    assert "grasp-seg train --x 1" in card and '"accuracy": 0.5' in card
    assert "62,420 parameters" in card and "| epochs | 3 |" in card


def test_weights_stored_as_half_load_into_float32_models(tmp_path):
    from safetensors import safe_open

    from grasp_seg_ros.nets.weights import ModelMetadata, load_weights, save_weights
    from grasp_seg_ros.training.model_card import store_half
    torch.manual_seed(0)
    model = get_model("pspnet_r18", output_stride=16, fusion_channels=32).eval()
    path = save_weights(tmp_path / "m.safetensors", model, ModelMetadata(
        "pspnet_r18", arch_kwargs={"output_stride": 16, "fusion_channels": 32}))
    full_size = path.stat().st_size
    store_half(path)
    assert path.stat().st_size < 0.55 * full_size
    with safe_open(str(path), framework="pt") as f:
        dtypes = {f.get_tensor(k).dtype for k in f.keys()}
    assert dtypes == {torch.float16, torch.int64}          # BatchNorm's counters stay integers
    loaded, meta = load_weights(path)
    assert meta.training["stored_as"] == "torch.float16"
    assert all(p.dtype == torch.float32 for p in loaded.parameters())
    x = torch.randn(1, 1, 300, 300)
    with torch.no_grad():
        expected, got = model(x)["out"], loaded(x)["out"]
    scale = float(expected.abs().max())
    torch.testing.assert_close(got, expected, rtol=0, atol=0.02 * scale)


def test_model_card_command_halves_a_file_and_records_notes(tmp_path):
    from safetensors import safe_open

    from grasp_seg_ros.nets.weights import ModelMetadata, read_metadata, save_weights
    torch.manual_seed(0)
    model = get_model("pspnet_r18", output_stride=16, fusion_channels=32)
    path = save_weights(tmp_path / "m.safetensors", model, ModelMetadata(
        "pspnet_r18", arch_kwargs={"output_stride": 16, "fusion_channels": 32}))
    full_size = path.stat().st_size
    run = subprocess.run([sys.executable, "-m", "grasp_seg_ros.training.model_card", str(path),
                          "--half", "--note", "budget_note=4 epochs, 2-core CPU"],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert path.stat().st_size < 0.55 * full_size
    with safe_open(str(path), framework="pt") as f:
        assert f.get_tensor("head.1.heads.0.weight").dtype == torch.float16
    assert read_metadata(path).training["budget_note"] == "4 epochs, 2-core CPU"
    card = path.with_suffix(".md").read_text()
    assert "| budget_note | 4 epochs, 2-core CPU |" in card
    assert "| stored_as | torch.float16 |" in card
    bad = subprocess.run([sys.executable, "-m", "grasp_seg_ros.training.model_card", str(path),
                          "--note", "no equals sign"], capture_output=True, text=True)
    assert bad.returncode == 2 and "KEY=TEXT" in bad.stderr


def test_a_checkpoint_of_another_layout_is_refused_with_the_way_out(tmp_path):
    import torch

    from grasp_seg_ros.training.loop import load_checkpoint, save_checkpoint
    model = torch.nn.Linear(2, 2)
    opt = torch.optim.Adam(model.parameters())
    path = tmp_path / "checkpoint.pt"
    save_checkpoint(path, model=model, optimizer=opt, scheduler=None, epoch=3,
                    history=[{"loss": 1.0}])
    fresh = torch.nn.Linear(2, 2)
    epoch, history = load_checkpoint(path, model=fresh,
                                     optimizer=torch.optim.Adam(fresh.parameters()),
                                     scheduler=None)
    assert epoch == 3 and history == [{"loss": 1.0}]
    assert torch.equal(fresh.weight, model.weight)
    torch.save({"model": model.state_dict(), "epoch": 1}, path)  # an older layout
    with pytest.raises(ValueError, match="delete it"):
        load_checkpoint(path, model=fresh, optimizer=torch.optim.Adam(fresh.parameters()),
                        scheduler=None)
