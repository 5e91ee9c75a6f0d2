"""The same Keras model trained with and without MirroredStrategy (2 replicas:
GPUs when there are two, else two logical CPU devices); prints JSON with both
runs' losses and the largest weight difference. Run as a program, because the
logical devices must exist before TensorFlow starts:

    python -m lessons_lib.mirrored_example
"""
from __future__ import annotations

import json
import sys


def main():
    import tensorflow as tf

    from lessons_lib.harness import tf_distribute
    if len(tf.config.list_physical_devices("GPU")) < 2:
        tf_distribute.split_cpu(2)
    import keras
    import numpy as np

    from lessons_lib.harness import keras as harness

    rng = np.random.default_rng(0)
    x = rng.normal(size=(512, 8)).astype("float32")
    y = np.sin(x.sum(axis=1, keepdims=True)).astype("float32")

    def build():
        keras.utils.set_random_seed(0)
        return keras.Sequential([keras.Input((8,)), keras.layers.Dense(32, activation="tanh"),
                                 keras.layers.Dense(1)])

    strategy = tf_distribute.mirrored()
    with strategy.scope():
        mirrored_model = build()
    runs = {}
    for name, model, options in (("mirrored", mirrored_model, {"strategy": strategy}),
                                 ("single", build(), {})):
        history = harness.fit(model, (x, y), loss="mse", optimizer=keras.optimizers.SGD(0.1),
                              epochs=4, batch_size=64, shuffle=False, progress=False,
                              mixed_precision=False, **options)
        runs[name] = (model, [row["train_loss"] for row in history.rows])
    gap = max(float(np.abs(a - b).max()) for a, b in
              zip(runs["mirrored"][0].get_weights(), runs["single"][0].get_weights()))
    json.dump({"replicas": strategy.num_replicas_in_sync,
               "devices": list(strategy.extended.worker_devices),
               "loss_mirrored": runs["mirrored"][1], "loss_single": runs["single"][1],
               "max_weight_gap": gap}, sys.stdout)


if __name__ == "__main__":
    main()
