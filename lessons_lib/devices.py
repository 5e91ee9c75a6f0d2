"""Where the course runs: device choice, an environment report, seeding.

Importing this module is cheap: torch and TensorFlow are imported only inside
the functions that need them (TensorFlow takes seconds to import, so it is
never imported here at all; its version is read from the installed package).
"""
from __future__ import annotations

import importlib.abc
import importlib.metadata
import importlib.util
import os
import platform
import random
import sys

import numpy as np

DEVICE_NAMES = ("auto", "cuda", "mps", "cpu")


def _mps_available(torch) -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def pick_device(prefer="auto"):
    """The `torch.device` to train on.

    "auto" picks CUDA when a GPU is present, then Apple's MPS, then the CPU.
    "cuda", "mps" and "cpu" ask for one explicitly ("cuda:1" picks a GPU);
    a `torch.device` is returned as it is. An unknown name, or a device this
    machine does not have, raises ValueError.
    """
    import torch

    if isinstance(prefer, torch.device):
        return prefer
    kind, _, index = prefer.partition(":") if isinstance(prefer, str) else ("", "", "")
    if kind not in DEVICE_NAMES or (index and not (kind == "cuda" and index.isdigit())):
        raise ValueError(f"device must be one of {', '.join(map(repr, DEVICE_NAMES))} "
                         f"(or 'cuda:N'); got {prefer!r}")
    if kind == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps" if _mps_available(torch) else "cpu")
    if kind == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={prefer!r} but torch sees no CUDA GPU here; "
                         "use device='auto' or 'cpu'")
    if index and int(index) >= torch.cuda.device_count():
        raise ValueError(f"device={prefer!r} but there are only "
                         f"{torch.cuda.device_count()} CUDA GPU(s) here")
    if kind == "mps" and not _mps_available(torch):
        raise ValueError(f"device={prefer!r} but Apple MPS is not available here; "
                         "use device='auto' or 'cpu'")
    return torch.device(prefer)


def on_colab() -> bool:
    """True inside a Google Colab runtime."""
    return "google.colab" in sys.modules


def _installed_version(*distributions):
    """Version of the first installed distribution, without importing it."""
    for name in distributions:
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


def _cpu_name():
    name = platform.processor()
    try:  # Linux (and Colab) name the CPU model only here
        with open("/proc/cpuinfo") as cpuinfo:
            name = next(line.split(":", 1)[1].strip() for line in cpuinfo
                        if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{name or platform.machine() or 'CPU'} ({os.cpu_count()} cores)"


def _torch_facts():
    facts = {"torch": None, "device": "cpu", "device_name": _cpu_name(), "gpu_memory_gb": None}
    if importlib.util.find_spec("torch") is None:
        return facts
    import torch

    device = pick_device("auto")
    facts.update(torch=torch.__version__, device=device.type)
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        facts["device_name"] = props.name
        facts["gpu_memory_gb"] = round(props.total_memory / 2**30, 1)
    elif device.type == "mps":
        facts["device_name"] = "Apple GPU (MPS, memory shared with the CPU)"
    return facts


def environment() -> dict:
    """Versions and hardware as a dict (TensorFlow/Keras versions are None when
    they are not installed; they are read without importing TensorFlow)."""
    facts = {"python": platform.python_version(), "numpy": np.__version__}
    facts.update(_torch_facts())
    facts["tensorflow"] = _installed_version("tensorflow", "tensorflow-cpu", "tf-nightly")
    facts["keras"] = _installed_version("keras")
    facts["colab"] = on_colab()
    return facts


class _Table(str):
    """A string that a notebook displays as the table it is, not as a repr."""

    def __repr__(self):
        return str(self)

    def _repr_pretty_(self, printer, cycle):
        printer.text(str(self))


def report() -> str:
    """The environment as a short table, e.g. `print(devices.report())`."""
    facts = environment()
    labels = {"python": "Python", "numpy": "NumPy", "torch": "torch",
              "tensorflow": "TensorFlow", "keras": "Keras", "device": "device",
              "device_name": "device name", "gpu_memory_gb": "GPU memory (GiB)",
              "colab": "on Colab"}
    width = max(map(len, labels.values()))
    lines = []
    for key, label in labels.items():
        value = facts[key]
        if value is None:
            value = "not installed" if key in ("torch", "tensorflow", "keras") else "-"
        elif isinstance(value, bool):
            value = "yes" if value else "no"
        lines.append(f"{label:<{width}}  {value}")
    return _Table("\n".join(lines))


def seed_everything(seed: int) -> list[str]:
    """Seed every random number generator a lesson may use; returns their names.

    Seeds Python's `random`, NumPy's global generator, torch (CPU and every CUDA
    device) when torch is installed (if it is not imported yet, the moment it
    is: a Keras lesson does not pay seconds to import it), and Keras/TensorFlow through
    `keras.utils.set_random_seed` -- but only when Keras or TensorFlow is already
    imported, because importing TensorFlow just to seed it costs seconds.
    Import Keras first, then seed (the Keras harness does so itself).

    PYTHONHASHSEED: string hashing (and so the order of sets of strings) is
    fixed when the interpreter starts, so setting it here cannot change this
    process. It is set in `os.environ` so that subprocesses (e.g. DataLoader
    workers started with "spawn") inherit it; for this process, start Python
    with PYTHONHASHSEED set (the Makefile does).
    """
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative int; got {seed!r}")
    seeded = ["random", "numpy"]
    random.seed(seed)
    np.random.seed(seed % 2**32)
    os.environ["PYTHONHASHSEED"] = str(seed)
    if "torch" in sys.modules:
        sys.modules["torch"].manual_seed(seed)  # seeds the CPU and all CUDA generators
        seeded.append("torch")
    elif importlib.util.find_spec("torch") is not None:
        _seed_torch_on_import(seed)  # importing torch costs seconds a Keras lesson needn't pay
        seeded.append("torch")
    if "keras" in sys.modules or "tensorflow" in sys.modules:
        _seed_keras(seed)
        seeded.append("keras")
    return seeded


class _SeedTorchOnImport(importlib.abc.MetaPathFinder):
    """Finds nothing itself; when `import torch` runs, wraps torch's loader so
    that the module is seeded right after it has loaded (then steps aside)."""

    seed = None

    def find_spec(self, name, path=None, target=None):
        if name != "torch":
            return None
        sys.meta_path.remove(self)  # find torch's own spec without finding ourselves
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.loader is not None:
            exec_module, seed = spec.loader.exec_module, self.seed

            def exec_and_seed(module):
                exec_module(module)
                module.manual_seed(seed)

            spec.loader.exec_module = exec_and_seed
        return spec


_TORCH_SEEDER = _SeedTorchOnImport()


def _seed_torch_on_import(seed):
    _TORCH_SEEDER.seed = seed  # the latest seed wins
    if _TORCH_SEEDER not in sys.meta_path:
        sys.meta_path.insert(0, _TORCH_SEEDER)


def _seed_keras(seed):
    try:
        import keras
    except ImportError:  # TensorFlow without standalone Keras
        import tensorflow as tf

        tf.random.set_seed(seed)
        return
    keras.utils.set_random_seed(seed)
