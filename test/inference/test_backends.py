"""Every way of running a model gives the same grasps: the fast rewrite, fp16, bf16, the
reference.

fp16 runs here on the CPU (slow, but the same arithmetic format a GPU uses); no GPU is
attached to the test machines. bf16 runs natively where the test machine's CPU has bfloat16
instructions and emulated elsewhere: the grasps are the same either way.
"""

import json

import numpy as np
import pytest
import torch

from grasp_seg_ros.core.grasp import angle_difference
from grasp_seg_ros.core.resources import DEFAULT_MODEL
from grasp_seg_ros.inference.backends import bf16_hint, cpu_has_bf16
from grasp_seg_ros.tools.bench import main as bench_main
from grasp_seg_ros.inference.detector import GraspDetector
from grasp_seg_ros.tools.reference import ReferencePipeline
from grasp_seg_ros.nets.weights import load_weights
from grasp_seg_ros.sim.camera import CameraConfig, DepthNoise
from grasp_seg_ros.sim.scene import SceneConfig, make_scene


@pytest.fixture(scope="module")
def scenes():
    camera = CameraConfig()
    out = []
    for seed in range(4):
        with make_scene(4_000_000 + seed, camera=camera,
                        config=SceneConfig(num_objects=(2, 4))) as scene:
            depth, _ = scene.render(DepthNoise(), np.random.default_rng(seed))
        out.append(depth)
    return camera, out


def best(det, camera, depth):
    return det.detect(depth, camera.intrinsics()).grasps[0]


def test_fast_rewrite_gives_the_same_grasps(scenes):
    camera, depths = scenes
    fast = GraspDetector("ggcnn", device="cpu")
    eager = GraspDetector("ggcnn", device="cpu", optimise=False)
    for depth in depths:
        a, b = best(fast, camera, depth), best(eager, camera, depth)
        assert a.image_px == b.image_px
        assert a.angle_rad == pytest.approx(b.angle_rad, abs=1e-4)
        assert a.width_m == pytest.approx(b.width_m, rel=1e-4)


def test_fp16_grasps_agree_with_fp32(scenes):
    camera, depths = scenes
    fp32 = GraspDetector("ggcnn", device="cpu")
    fp16 = GraspDetector("ggcnn", device="cpu", precision="fp16")
    for depth in depths:
        grasps = fp32.detect(depth, camera.intrinsics()).grasps
        b = best(fp16, camera, depth)
        # two peaks of nearly equal quality may swap places under fp16: then the fp16 best
        # is another of fp32's peaks, as good to within rounding
        a = min(grasps, key=lambda g: np.hypot(g.image_px[0] - b.image_px[0],
                                               g.image_px[1] - b.image_px[1]))
        assert np.hypot(a.image_px[0] - b.image_px[0], a.image_px[1] - b.image_px[1]) <= 2.0
        assert a.quality == pytest.approx(grasps[0].quality, rel=0.02)
        assert b.quality == pytest.approx(a.quality, rel=0.02)
        assert np.degrees(angle_difference(a.angle_rad, b.angle_rad)) < 5.0
        assert a.width_m == pytest.approx(b.width_m, rel=0.05, abs=0.002)


def test_bf16_grasps_agree_with_fp32_on_the_default_model(scenes):
    camera, depths = scenes
    fp32 = GraspDetector(DEFAULT_MODEL, device="cpu", backend="torch")
    bf16 = GraspDetector(DEFAULT_MODEL, device="cpu", precision="bf16")
    assert bf16.backend.name == "torch"   # auto: ONNX Runtime runs fp32 only
    assert "(torch, bf16)" in bf16.metadata_summary and "fp32" not in fp32.metadata_summary
    for depth in depths:
        ref = fp32.detect(depth, camera.intrinsics())
        low = bf16.detect(depth, camera.intrinsics())
        grasps, b = ref.grasps, low.grasps[0]
        # it did run in bfloat16: the maps differ by its rounding, and by no more
        assert 0.0 < np.abs(low.maps.quality - ref.maps.quality).max() < 0.02
        # bfloat16 keeps 8 bits of mantissa: nearly equal peaks may swap places, so the
        # bf16 best is one of fp32's grasps (the same spot, direction and opening) and
        # rated as well as fp32's best to within rounding
        a = min(grasps, key=lambda g: np.linalg.norm(g.position_m - b.position_m))
        assert np.linalg.norm(a.position_m - b.position_m) <= 0.004
        assert b.quality == pytest.approx(grasps[0].quality, abs=0.02)
        assert np.degrees(angle_difference(a.angle_rad, b.angle_rad)) < 5.0
        assert a.width_m == pytest.approx(b.width_m, abs=0.003)


def test_cpu_bf16_support_is_read_from_the_flags(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512_bf16\n")
    assert cpu_has_bf16(info)
    info.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512_vnni\n")
    assert not cpu_has_bf16(info)
    info.write_text("processor\t: 0\nFeatures\t: fp asimd bf16 i8mm\n")   # Arm
    assert cpu_has_bf16(info)
    assert not cpu_has_bf16(tmp_path / "missing")
    # the start-up hint: fp32 on such a CPU only
    info.write_text("flags\t\t: avx512f avx512_bf16\n")
    assert "precision:=bf16" in bf16_hint(torch.device("cpu"), "fp32", info)
    assert bf16_hint(torch.device("cpu"), "bf16", info) is None
    assert bf16_hint(torch.device("cuda"), "fp32", info) is None
    info.write_text("flags\t\t: avx512f\n")
    assert bf16_hint(torch.device("cpu"), "fp32", info) is None


def test_unknown_precision_is_rejected():
    with pytest.raises(ValueError, match="precision"):
        GraspDetector("ggcnn", device="cpu", precision="int4")


def test_reference_steps_find_the_same_grasp_region(scenes):
    camera, depths = scenes
    det = GraspDetector("ggcnn", device="cpu")
    model, meta = load_weights(det.model_path)
    ref = ReferencePipeline(model, width_scale_px=meta.scaling.width_scale_px)
    close = 0
    for depth in depths:
        stages = ref(depth, camera.intrinsics())
        assert set(stages) == {"preprocess", "inference", "postprocess"}
        x, y, z, _, _ = ref.last
        ours = best(det, camera, depth).position_m
        close += np.linalg.norm(np.array([x, y, z]) - ours) < 0.03
    # same network, slightly different filtering (angle blurred as an angle there): the
    # best grasps land in the same place on most scenes
    assert close >= len(depths) - 1


def test_bench_reports_every_stage_and_variant(tmp_path):
    out = tmp_path / "bench.json"
    bench_main(["--frames", "4", "--warmup", "1", "--threads", "1", "--blocks", "2",
                "--json", str(out)])
    result = json.loads(out.read_text())
    row = result["results"]["1"]
    assert set(row["pipeline"]) == {"convert", "preprocess", "inference", "postprocess",
                                    "publish", "total"}
    assert {"eager", "reference", "speedup_vs_reference", "rss_mb_pipeline"} <= set(row)
    assert row["pipeline"]["total"]["n"] == 4 and result["peak_rss_mb"] > 0
    # backend auto: the runtime it chose, and PyTorch beside it when that was not PyTorch
    assert result["backend"] == "auto"
    assert row["pipeline_backend"] in ("torch", "onnxruntime")
    assert ("torch" in row) == (row["pipeline_backend"] != "torch")
    assert result["host"]["cores"] >= 1 and result["host"]["torch_cpu_capability"]
    # two blocks of two frames, each with every variant's median and the speed-up per block
    assert len(row["blocks"]) == 2 and len(row["speedup_blocks"]) == 2
    assert all({"pipeline", "eager", "reference"} <= set(b) for b in row["blocks"])
    for block, ratio in zip(row["blocks"], row["speedup_blocks"]):
        assert ratio == round(block["reference"] / block["pipeline"], 2)


def test_bench_compares_another_model_on_the_same_frames(tmp_path):
    out = tmp_path / "bench.json"
    bench_main(["--model", "ggcnn2_heightmap", "--compare", "ggcnn", "--frames", "2",
                "--warmup", "1", "--threads", "1", "--blocks", "1", "--no-eager",
                "--no-reference", "--backend", "torch", "--json", str(out)])
    result = json.loads(out.read_text())
    row = result["results"]["1"]
    assert result["compare"] == "ggcnn"
    assert row["compare"]["total"]["n"] == row["pipeline"]["total"]["n"] == 2
    # different models: the height map's preprocessing against the depth crop's
    assert row["compare"]["preprocess"]["median"] != row["pipeline"]["preprocess"]["median"]


def test_bench_compares_a_model_with_itself_in_another_precision(tmp_path, capsys):
    out = tmp_path / "bench.json"
    bench_main(["--model", "ggcnn2_heightmap_v2", "--precision", "bf16",
                "--compare", "ggcnn2_heightmap_v2", "--compare-precision", "fp32",
                "--frames", "2", "--warmup", "1", "--threads", "1", "--blocks", "1",
                "--no-eager", "--no-reference", "--backend", "torch", "--json", str(out)])
    result = json.loads(out.read_text())
    row = result["results"]["1"]
    assert (result["precision"], result["compare_precision"]) == ("bf16", "fp32")
    assert row["compare"]["total"]["n"] == row["pipeline"]["total"]["n"] == 2
    assert row["pipeline_backend"] == row["compare_backend"] == "torch"
    with pytest.raises(SystemExit):
        bench_main(["--compare-precision", "fp32", "--frames", "1"])
    assert "--compare-precision needs --compare" in capsys.readouterr().err


FAULTS_PER_FORWARD = """
import resource, sys
import numpy as np
from grasp_seg_ros.inference.detector import GraspDetector
backend = GraspDetector("ggcnn", device="cpu", num_threads=1).backend
x = np.zeros((300, 300), np.float32)
for _ in range(5):
    backend(x)
faults = []
for _ in range(10):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    backend(x)
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
print(sorted(faults))
print(float(np.median(faults)))
"""


@pytest.mark.parametrize("process", range(4))
def test_the_forward_pass_reuses_its_buffers_in_every_process(process):
    """Without fixed malloc thresholds, most fresh processes fault ~5800 new pages into every
    GG-CNN forward pass (its ~12 MB intermediates go back to the kernel at each free) and run
    1.5x slower; whether a process does depends on its allocation history. Each fresh process
    here must reuse its buffers: a page-fault count, not a time. The median over ten passes:
    that regression faults in every pass, while a one-off event elsewhere in the process
    (one full-suite run saw a mean of 293 faults a pass, in one of the four) does not."""
    import subprocess
    import sys
    out = subprocess.run([sys.executable, "-c", FAULTS_PER_FORWARD], capture_output=True,
                         text=True, check=True)
    assert float(out.stdout.strip().splitlines()[-1]) < 100
