"""lessons_lib.devices: device choice, environment report, seeding."""
import importlib.metadata
import os
import random
import subprocess
import sys

import numpy as np
import pytest
import torch

from lessons_lib import devices


def run_python(code):
    """Run `code` in a fresh interpreter (module-import side effects are per process)."""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def test_importing_devices_and_harness_imports_neither_torch_nor_tensorflow():
    loaded = run_python(
        "import sys, lessons_lib.devices, lessons_lib.harness, lessons_lib.harness.callbacks;"
        "print(sorted(m for m in ('torch', 'tensorflow', 'keras') if m in sys.modules))")
    assert loaded == "[]"


def test_report_does_not_import_tensorflow():
    loaded = run_python("import sys; from lessons_lib import devices; devices.report();"
                        "print('tensorflow' in sys.modules, 'keras' in sys.modules)")
    assert loaded == "False False"


def test_pick_device_auto_and_explicit():
    expected = "cuda" if torch.cuda.is_available() else (
        "mps" if torch.backends.mps.is_available() else "cpu")
    assert devices.pick_device().type == expected
    assert devices.pick_device("cpu") == torch.device("cpu")
    assert devices.pick_device(torch.device("cpu")) == torch.device("cpu")


def test_pick_device_prefers_cuda_then_mps(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert devices.pick_device("auto") == torch.device("mps")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert devices.pick_device("auto") == torch.device("cuda")
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert devices.pick_device("auto") == torch.device("cpu")


@pytest.mark.parametrize("name", ["tpu", "gpu", "cuda:x", "cpu:1", "", None, 3])
def test_pick_device_rejects_unknown_names(name):
    with pytest.raises(ValueError, match=r"device must be one of 'auto', 'cuda', 'mps', 'cpu'"):
        devices.pick_device(name)


def test_pick_device_rejects_missing_devices(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    with pytest.raises(ValueError, match="device='cuda'.*no CUDA GPU"):
        devices.pick_device("cuda")
    with pytest.raises(ValueError, match="device='mps'.*not available"):
        devices.pick_device("mps")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(ValueError, match="device='cuda:3'.*only 1"):
        devices.pick_device("cuda:3")


def test_environment_facts(monkeypatch):
    facts = devices.environment()
    assert facts["numpy"] == np.__version__
    assert facts["torch"] == torch.__version__
    assert facts["python"] == ".".join(map(str, sys.version_info[:3]))
    try:
        keras_version = importlib.metadata.version("keras")
    except importlib.metadata.PackageNotFoundError:
        keras_version = None
    assert facts["keras"] == keras_version
    assert facts["device"] == devices.pick_device().type
    assert (facts["gpu_memory_gb"] is None) == (facts["device"] != "cuda")
    assert facts["colab"] is False
    monkeypatch.setitem(sys.modules, "google.colab", object())
    assert devices.environment()["colab"] is True and devices.on_colab()


def test_report_is_a_table_that_shows_itself():
    table = devices.report()
    for label in ("Python", "NumPy", "torch", "TensorFlow", "Keras", "device name",
                  "GPU memory", "on Colab"):
        assert label in table
    assert np.__version__ in table and torch.__version__ in table
    assert repr(table) == str(table)  # a notebook cell shows the table, not a quoted string
    assert len(table.splitlines()) == 9


def draws():
    return random.random(), np.random.rand(), torch.rand(1).item()


def test_seed_everything_repeats_python_numpy_and_torch(monkeypatch):
    monkeypatch.delenv("PYTHONHASHSEED", raising=False)
    seeded = devices.seed_everything(7)
    first = draws()
    assert {"random", "numpy", "torch"} <= set(seeded)
    devices.seed_everything(7)
    assert draws() == first
    devices.seed_everything(8)
    assert draws() != first
    assert os.environ["PYTHONHASHSEED"] == "8"


def test_seed_everything_does_not_import_torch_but_seeds_it_on_import():
    out = run_python(
        "import sys; from lessons_lib import devices;"
        "names = devices.seed_everything(3); imported = 'torch' in sys.modules;"
        "devices.seed_everything(4);"  # the latest seed wins
        "import torch; a = torch.rand(3); torch.manual_seed(4);"
        "print('torch' in names, imported, torch.equal(a, torch.rand(3)))")
    assert out == "True False True"


def test_seed_everything_seeds_keras_once_imported():
    out = run_python(
        "import keras; from lessons_lib import devices;"
        "names = devices.seed_everything(3); a = keras.random.uniform((3,));"
        "devices.seed_everything(3); b = keras.random.uniform((3,));"
        "print('keras' in names, bool((keras.ops.convert_to_numpy(a) == "
        "keras.ops.convert_to_numpy(b)).all()))")
    assert out == "True True"


@pytest.mark.parametrize("seed", [-1, 1.5, "0", True])
def test_seed_everything_rejects_bad_seeds(seed):
    with pytest.raises(ValueError, match="seed must be a non-negative int"):
        devices.seed_everything(seed)
