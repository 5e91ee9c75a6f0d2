"""tf.distribute for the Keras harness: MirroredStrategy on whatever is here.

MirroredStrategy keeps a copy of the model on each device (a *replica*),
splits every batch of B samples into N parts of B/N, and sums the replicas'
gradients (an all-reduce) before each update, so every copy takes the same
step: the one of the whole batch. On a machine with GPUs the replicas are the
GPUs; on a CPU, `split_cpu(n)` makes n logical CPU devices to stand in for
them (the same code path, without the speed-up).
"""
from __future__ import annotations


def split_cpu(n=2):
    """Make the CPU appear as `n` logical devices. Must run before TensorFlow
    initialises its devices (before any op runs): else RuntimeError."""
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    existing = tf.config.get_logical_device_configuration(cpu)
    if existing is not None and len(existing) == n:
        return
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * n)


def mirrored():
    """MirroredStrategy over the visible GPUs, else over the logical CPUs."""
    import tensorflow as tf

    gpus = tf.config.list_logical_devices("GPU")
    devices = gpus or tf.config.list_logical_devices("CPU")
    return tf.distribute.MirroredStrategy([d.name for d in devices])
