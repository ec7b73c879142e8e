"""Knowledge distillation: the loss, a frozen teacher, and a distilled run from a recipe."""

import copy

import numpy as np
import pytest
import torch

from grasp_seg_ros.nets import get_model
from grasp_seg_ros.nets.weights import ModelMetadata, read_metadata, save_weights
from grasp_seg_ros.training.datasets import GraspDataset, load_samples
from grasp_seg_ros.training.losses import Distiller, model_losses, total_loss
from grasp_seg_ros.training.recipe import load_recipe
from grasp_seg_ros.training.run import train
from test_run import ROOT
from tiny_data import make_jacquard


def small(arch="pspnet_r18"):
    return get_model(arch, output_stride=16, fusion_channels=32)


def batch(tmp_path, n=2):
    ds = GraspDataset(load_samples("synthetic", make_jacquard(tmp_path, n)))
    x = torch.from_numpy(np.stack([ds.example(i)[0] for i in range(n)]))
    y = torch.from_numpy(np.stack([ds.example(i)[1] for i in range(n)]))
    return x, y


def test_distillation_term_is_zero_when_student_equals_teacher(tmp_path):
    torch.manual_seed(0)
    teacher = small().eval()
    student = copy.deepcopy(teacher).eval()
    x, y = batch(tmp_path)
    losses = Distiller(teacher).losses(student(x), x, y)
    kd = [v for k, v in losses.items() if k.startswith("kd_")]
    assert len(kd) == 4 and all(float(v.detach()) == 0.0 for v in kd)
    assert any(float(v.detach()) > 0 for k, v in losses.items() if not k.startswith("kd_"))


def test_student_learns_and_teacher_stays_frozen(tmp_path):
    torch.manual_seed(0)
    teacher = small("pspnet_r50")
    before = {k: v.clone() for k, v in teacher.state_dict().items()}
    student = small()
    student.train()
    distiller = Distiller(teacher, kd_weight=1.0, gt_weight=1.0)
    x, y = batch(tmp_path)
    opt = torch.optim.Adam(student.parameters(), lr=1e-3)
    kd = []
    for _ in range(6):
        losses = distiller.losses(student(x), x, y)
        kd.append(sum(float(v.detach()) for k, v in losses.items() if k.startswith("kd_")))
        opt.zero_grad()
        total_loss(losses).backward()
        opt.step()
    assert kd[-1] < kd[0]
    after = teacher.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)   # BN statistics included
    assert not any(p.requires_grad for p in teacher.parameters())


def test_feature_hint_trains_the_adapter_and_leaves_the_teacher_alone(tmp_path):
    torch.manual_seed(0)
    teacher = small("pspnet_r50")
    before = {k: v.clone() for k, v in teacher.state_dict().items()}
    student = small().train()
    distiller = Distiller(teacher, feature_weight=1.0, student=student)
    # ResNet18's 512 layer4 channels mapped onto ResNet50's 2048
    assert (distiller.adapter.in_channels, distiller.adapter.out_channels) == (512, 2048)
    assert student.training                      # the channel probe restored the mode
    x, y = batch(tmp_path)
    opt = torch.optim.Adam(list(student.parameters()) + distiller.trainable, lr=1e-3)
    hint = []
    for _ in range(6):
        losses = distiller.losses(student(x), x, y)
        hint.append(float(losses["kd_features"].detach()))
        opt.zero_grad()
        total_loss(losses).backward()
        opt.step()
    assert hint[-1] < hint[0]
    after = teacher.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_feature_hint_needs_a_layer_both_networks_have(tmp_path):
    with pytest.raises(ValueError, match="no submodule 'layer9'"):
        Distiller(small("pspnet_r50"), feature_weight=1.0, student=small(),
                  feature_layer="layer9")
    with pytest.raises(ValueError, match="needs the student"):
        Distiller(small("pspnet_r50"), feature_weight=1.0)


def test_aux_loss_is_weighted():
    out = {"out": torch.zeros(1, 4, 8, 8), "aux": torch.ones(1, 4, 8, 8)}
    y = torch.zeros(1, 4, 8, 8)
    losses = model_losses(out, y, aux_weight=0.4)
    assert float(losses["aux_loss_quality"]) == pytest.approx(0.4)
    assert float(losses["loss_quality"]) == 0.0
    assert "aux_loss_quality" not in model_losses(out, y, aux_weight=0.0)


def test_distilled_run_records_its_teacher(tmp_path):
    data = make_jacquard(tmp_path / "data", 6)
    teacher = tmp_path / "teacher.safetensors"
    save_weights(teacher, small("pspnet_r50"),
                 ModelMetadata("pspnet_r50", arch_kwargs={"output_stride": 16,
                                                          "fusion_channels": 32}))
    recipe = load_recipe(ROOT / "config" / "train" / "ggcnn_synthetic.yaml", [
        f"data.train={data}", "data.test=null", "data.val_fraction=0.34", "train.batch_size=2",
        "train.epochs=1",
        "train.max_steps_per_epoch=1", "train.threads=1", "eval.plot_images=1",
        "model.arch=pspnet_r18", "model.kwargs={output_stride: 16, fusion_channels: 32}",
        f"distill.teacher={teacher}", "distill.kd_weight=0.5", "distill.feature_weight=0.1"])
    train(recipe, tmp_path / "run")
    meta = read_metadata(tmp_path / "run" / "model.safetensors")
    assert meta.architecture == "pspnet_r18"
    assert meta.training["distilled_from"] == str(teacher)
    assert meta.training["kd_weight"] == 0.5
    assert meta.training["feature_weight"] == 0.1
    # the adapter is saved with the checkpoint, so a resumed run continues it
    state = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)
    assert state["extra"]["adapter"]["weight"].shape == (2048, 512, 1, 1)
    history = __import__("json").loads((tmp_path / "run" / "metrics.json").read_text())
    assert "kd_features" in history["history"][0]
