"""lessons_lib: the library behind *Optimization for Machine Learning in Practice*.

Submodules are imported on use so that `import lessons_lib` stays fast and does
not pull in torch or TensorFlow until a lesson needs them.
"""
import importlib
import os

# TensorFlow writes C++ start-up lines (oneDNN, CPU features) straight to stderr,
# which would show in every lesson that touches Keras. Only these variables,
# set before TensorFlow is first imported, keep it quiet; oneDNN off also makes
# float results repeatable run to run. A value already in the environment wins.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

__version__ = "0.1.0"
__all__ = ["optim", "schedules", "landscapes", "data", "metrics", "harness",
           "plots", "exercises", "devices", "course", "linear", "studies", "table",
           "checks", "ops", "exercise_bank", "publish", "explore"]


def __getattr__(name):
    if name in __all__:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'lessons_lib' has no attribute {name!r}")
