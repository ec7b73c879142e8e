"""Inference backends: normalised (S, S) input in, raw (C, S, S) maps out; one factory picks
the backend by the model file's kind."""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import time
from pathlib import Path
from typing import Protocol

import numpy as np
import torch

from grasp_seg_ros.core.errors import DeviceUnavailable
from grasp_seg_ros.nets.fast import optimise_for_inference
from grasp_seg_ros.nets.weights import ModelMetadata, load_weights

LOG = logging.getLogger(__name__)
DEVICES = ("auto", "cpu", "cuda")
PRECISIONS = ("fp32", "fp16", "bf16")
_DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
#: auto: on the CPU in fp32, PyTorch or ONNX Runtime, whichever runs this model faster here
BACKENDS = ("auto", "torch", "onnxruntime")
#: auto times each runtime on this many forward passes (after two to warm up), interleaved
CHOICE_PASSES = 5
#: auto keeps PyTorch unless ONNX Runtime's median is at least this much lower
CHOICE_MARGIN = 0.05

#: glibc mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
#: blocks below this come from the heap and are reused (glibc's largest allowed threshold)
HEAP_BLOCKS_UP_TO = 32 * 2**20
_malloc_tuned = False


def keep_large_buffers() -> bool:
    """Make glibc keep the network's large intermediate buffers between frames.

    A CPU forward pass allocates and frees tensors of ~12 MB (GG-CNN at 300x300). glibc's malloc
    serves blocks above a threshold with mmap and gives them back to the kernel at free; the
    threshold adapts to the process's history, so one process ends up reusing heap memory
    and the next faults ~5800 fresh pages in per frame: GG-CNN's forward pass took 9-11 ms in
    some processes and 14-17 ms in others on the same idle machine (README, Performance).
    Fixing the thresholds (process-wide, once) gives every process the fast behaviour.
    Returns False where there is no glibc (the setting is then left alone).
    """
    global _malloc_tuned
    if _malloc_tuned:
        return True
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):
        return False
    ok = bool(mallopt(_M_MMAP_THRESHOLD, HEAP_BLOCKS_UP_TO)) and bool(
        mallopt(_M_TRIM_THRESHOLD, 4 * HEAP_BLOCKS_UP_TO))
    _malloc_tuned = ok
    LOG.debug("malloc thresholds %s", "fixed" if ok else "left alone (mallopt refused)")
    return ok


def cpu_has_bf16(cpuinfo: str | Path = "/proc/cpuinfo") -> bool:
    """Whether the CPU has bfloat16 arithmetic (x86 AVX512_BF16 or AMX-BF16; Arm BF16), from
    its flags in ``cpuinfo``; False where the file cannot be read (not Linux)."""
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        return False
    flags = {f for line in text.splitlines()
             if line.startswith(("flags", "Features")) for f in line.split(":", 1)[1].split()}
    return bool(flags & {"avx512_bf16", "amx_bf16", "bf16"})


def bf16_hint(device: torch.device, precision: str,
              cpuinfo: str | Path = "/proc/cpuinfo") -> str | None:
    """A line for the start-up log where fp32 runs on a CPU that has bfloat16 instructions,
    which ``precision: bf16`` would use; else None."""
    if device.type != "cpu" or precision != "fp32" or not cpu_has_bf16(cpuinfo):
        return None
    return ("this CPU has bfloat16 instructions: precision:=bf16 runs the network faster, "
            "with the grasps of fp32 up to rounding (README, Performance)")


def resolve_device(device: str) -> torch.device:
    """'auto' picks CUDA when present; 'cuda' without a GPU raises DeviceUnavailable."""
    if device not in DEVICES and not device.startswith("cuda:"):
        raise ValueError(f"device must be one of {DEVICES} (or cuda:N), got '{device}'")
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise DeviceUnavailable(f"device '{device}' requested but torch sees no CUDA GPU; "
                                f"use device:=cpu or device:=auto")
    return torch.device(device)


class TorchBackend:
    """Eager PyTorch on CPU or CUDA, in inference mode.

    The model runs as rewritten by nets.fast (transposed convolutions as sub-pixel
    convolutions, fused heads, channels-last): the same outputs, 3x faster on a CPU core.
    ``optimise=False`` runs the module as it is. ``precision="fp16"`` runs in half precision
    (meant for CUDA; it works on a CPU too, slowly, which is how the tests check that fp16
    grasps agree with fp32); ``precision="bf16"`` in bfloat16, which a CPU with bfloat16
    instructions (AVX512_BF16 or AMX, :func:`cpu_has_bf16`) runs faster than fp32 (on
    others it is emulated, slower: a warning says so). On CUDA the input goes through a
    pinned host buffer.
    """

    name = "torch"
    #: why this runtime runs the model, when make_backend chose it (auto); else empty
    choice = ""

    def __init__(self, model: torch.nn.Module, device: torch.device, *,
                 optimise: bool = True, precision: str = "fp32") -> None:
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got '{precision}'")
        keep_large_buffers()
        self.device = device
        if precision == "bf16" and device.type == "cpu" and not cpu_has_bf16():
            LOG.warning("precision bf16: this CPU has no bfloat16 instructions (AVX512_BF16 "
                        "or AMX), so PyTorch emulates them, slower than fp32; use fp32")
        self.dtype = _DTYPES[precision]
        model = model.eval()
        self.model = (optimise_for_inference(model) if optimise else model).to(
            device=device, dtype=self.dtype)
        self._pinned: torch.Tensor | None = None

    @torch.inference_mode()
    def __call__(self, net_input: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(np.ascontiguousarray(net_input, np.float32))[None, None]
        if self.device.type == "cuda":
            if self._pinned is None or self._pinned.shape != x.shape:
                self._pinned = torch.empty(x.shape, dtype=torch.float32).pin_memory()
            self._pinned.copy_(x)
            x = self._pinned
        out = self.model(x.to(self.device, non_blocking=True).to(self.dtype))["out"][0]
        if self.dtype != torch.float32:
            # the conversion to fp32 copies anyway; into plain (C, S, S) order it costs no
            # more, and the decoder filtered binned maps in that order 1.3-1.7 ms faster on
            # an AMD EPYC host (the same grasps; core.grasp.filter_bin_maps)
            return out.to(torch.float32, memory_format=torch.contiguous_format).cpu().numpy()
        return out.cpu().numpy()


class Backend(Protocol):
    name: str
    choice: str

    def __call__(self, net_input: np.ndarray) -> np.ndarray: ...


def check_backend(backend: str, *, device: str = "cpu", precision: str = "fp32") -> None:
    """Raise ValueError, with the reason, for a backend unknown or unable to run on
    ``device`` in ``precision`` (ONNX Runtime runs fp32 on the CPU)."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got '{backend}'")
    if backend == "onnxruntime" and (precision != "fp32" or str(device).startswith("cuda")):
        raise ValueError(f"backend 'onnxruntime' runs fp32 on the CPU; got device {device}, "
                         f"precision {precision} (use backend 'torch' or 'auto')")


def _pass_ms(backend: Backend, x: np.ndarray) -> float:
    t = time.perf_counter()
    backend(x)
    return 1e3 * (time.perf_counter() - t)


def faster_backend(candidates: list[Backend], size_px: int, *,
                   passes: int = CHOICE_PASSES) -> tuple[Backend, dict[str, float]]:
    """The first of ``candidates`` unless another's median forward pass on a (size, size)
    input is more than CHOICE_MARGIN lower; the passes alternate between the candidates, so
    a machine whose speed drifts slows them alike. Returns it and each one's median (ms)."""
    x = np.zeros((size_px, size_px), np.float32)
    samples: dict[str, list[float]] = {b.name: [] for b in candidates}
    for i in range(passes + 2):
        for b in candidates:
            ms = _pass_ms(b, x)
            if i >= 2:
                samples[b.name].append(ms)
    medians = {name: float(np.median(v)) for name, v in samples.items()}
    chosen = choose_faster([b.name for b in candidates], medians)
    return next(b for b in candidates if b.name == chosen), medians


def choose_faster(names: list[str], medians_ms: dict[str, float]) -> str:
    """The first of ``names`` unless a later one's median is more than CHOICE_MARGIN lower
    than the one chosen so far."""
    chosen = names[0]
    for name in names[1:]:
        if medians_ms[name] < (1.0 - CHOICE_MARGIN) * medians_ms[chosen]:
            chosen = name
    return chosen


def make_backend(model_path: Path, *, device: str = "auto", num_threads: int = 0,
                 optimise: bool = True, precision: str = "fp32", backend: str = "torch"
                 ) -> tuple[Backend, ModelMetadata, torch.device]:
    """The backend for a model file, its metadata and the device it runs on.

    ``.onnx`` (made by grasp-seg export): ONNX Runtime on the CPU, whatever ``device`` and
    ``backend`` say; anything else: a .safetensors weight file, run by ``backend``:
    - 'torch': TorchBackend on ``device``;
    - 'onnxruntime': the network as TorchBackend runs it, exported to ONNX (cached,
      onnx_backend.inference_onnx) and run by ONNX Runtime; CPU and fp32 only;
    - 'auto': on the CPU in fp32, whichever of the two runs this model faster on this
      machine (:func:`faster_backend`, logged); PyTorch elsewhere, or where the export fails.
    """
    check_backend(backend)   # the name; what it can run on is checked below
    if Path(model_path).suffix == ".onnx":
        from grasp_seg_ros.inference.onnx_backend import OnnxBackend
        ort_backend = OnnxBackend(Path(model_path), num_threads=num_threads)
        return ort_backend, ort_backend.metadata, torch.device("cpu")
    resolved = resolve_device(device)
    check_backend(backend, device=resolved.type, precision=precision)
    if backend == "onnxruntime" and not optimise:
        raise ValueError("backend 'onnxruntime' runs the optimised network (nets.fast), not "
                         "the network as trained; use backend 'torch' or 'auto'")
    net, metadata = load_weights(model_path, device="cpu")
    if backend == "torch" or resolved.type != "cpu" or precision != "fp32" or not optimise:
        return (TorchBackend(net, resolved, optimise=optimise, precision=precision), metadata,
                resolved)
    from grasp_seg_ros.inference.onnx_backend import inference_onnx
    try:
        ort_backend = inference_onnx(net, metadata, Path(model_path),
                                     num_threads=num_threads)
    except Exception as exc:  # noqa: BLE001 - the exporter raises many kinds of error
        if backend == "onnxruntime":
            raise RuntimeError(f"{Path(model_path).name} cannot run on ONNX Runtime: the "
                               f"export failed ({exc}); use backend 'torch'") from exc
        LOG.warning("%s: the ONNX export failed (%s); running on PyTorch",
                    Path(model_path).name, exc)
        return TorchBackend(net, resolved, precision=precision), metadata, resolved
    if backend == "onnxruntime":
        return ort_backend, metadata, resolved
    torch_backend = TorchBackend(net, resolved, precision=precision)
    chosen, medians = faster_backend([torch_backend, ort_backend], metadata.input_size_px)
    chosen.choice = "auto, forward pass median " + ", ".join(
        f"{name} {ms:.1f} ms" for name, ms in medians.items())
    LOG.info("backend %s: %s", chosen.choice, chosen.name)
    return chosen, metadata, resolved
