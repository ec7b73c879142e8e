import json

import pytest
import torch
from safetensors.torch import save_file

from grasp_seg_ros.core.errors import ModelFileError
from grasp_seg_ros.core.grasp import OutputScaling
from grasp_seg_ros.core.preprocess import InputNormalisation
from grasp_seg_ros.nets import get_model, list_models
from grasp_seg_ros.nets.weights import (METADATA_KEY, ModelMetadata, load_weights,
                                        read_metadata, save_weights)


@pytest.mark.parametrize("name", list_models())
def test_weight_file_round_trip(tmp_path, name):
    torch.manual_seed(0)
    model = get_model(name).eval()
    meta = ModelMetadata(architecture=name, normalisation=InputNormalisation(clip_m=0.5),
                         scaling=OutputScaling(120.0), training={"scenes": 3},
                         metrics={"iou": 0.5}, description="test")
    path = save_weights(tmp_path / "m.safetensors", model, meta)
    loaded, meta2 = load_weights(path)
    assert meta2 == meta
    x = torch.randn(1, 1, 300, 300)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x)["out"], model(x)["out"])


def test_files_are_safetensors_not_pickles(tmp_path):
    path = save_weights(tmp_path / "m.safetensors", get_model("ggcnn"),
                        ModelMetadata("ggcnn"))
    raw = path.read_bytes()
    header_len = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + header_len])
    assert METADATA_KEY in header["__metadata__"]
    assert b"\x80\x04" not in raw[:2]  # no pickle protocol marker


def test_missing_file_names_file_and_fix(tmp_path):
    with pytest.raises(ModelFileError, match="nope.safetensors' does not exist; pass an"):
        load_weights(tmp_path / "nope.safetensors")


def test_truncated_file_is_rejected(tmp_path):
    path = save_weights(tmp_path / "m.safetensors", get_model("ggcnn"), ModelMetadata("ggcnn"))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError, match="m.safetensors"):
        load_weights(path)


def test_wrong_architecture_is_rejected(tmp_path):
    path = tmp_path / "m.safetensors"
    tensors = {k: v.contiguous() for k, v in get_model("ggcnn").state_dict().items()}
    save_file(tensors, str(path), metadata={METADATA_KEY: ModelMetadata("ggcnn2").to_json()})
    with pytest.raises(ModelFileError, match="does not match architecture 'ggcnn2'"):
        load_weights(path)


def test_file_without_metadata_is_rejected(tmp_path):
    path = tmp_path / "m.safetensors"
    save_file({"a": torch.zeros(1)}, str(path))
    with pytest.raises(ModelFileError, match="has no 'grasp_seg_ros' metadata"):
        read_metadata(path)


def test_garbage_file_is_rejected(tmp_path):
    path = tmp_path / "m.safetensors"
    path.write_bytes(b"\x80\x04\x95 this is a pickle, not weights")
    with pytest.raises(ModelFileError, match="not a readable safetensors file"):
        read_metadata(path)
