"""lessons_lib: the library behind *Optimization for Machine Learning in Practice*.

Submodules are imported on use so that `import lessons_lib` stays fast and does
not pull in torch or TensorFlow until a lesson needs them.
"""
import importlib

__version__ = "0.1.0"
__all__ = ["optim", "schedules", "landscapes", "data", "metrics", "harness",
           "plots", "exercises", "devices", "course", "linear", "experiments",
           "problems", "checks", "ops", "exercise_bank"]


def __getattr__(name):
    if name in __all__:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'lessons_lib' has no attribute {name!r}")
