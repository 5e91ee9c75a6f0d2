"""Run one of our rules as a real `keras.optimizers.Optimizer`."""
import keras
import numpy as np
from keras import ops as kops

from .. import ops


class KerasOptimizer(keras.optimizers.Optimizer):
    """A Keras optimizer whose update is `rule.step`, graph-safe inside `model.fit`.

    Weight decay is part of the rule, so Keras's own `weight_decay` stays off.
    The rule's state becomes optimizer variables, created from `init_state`
    evaluated on NumPy zeros (their shapes and initial values).
    """

    def __init__(self, rule, learning_rate=None, name=None, **kwargs):
        learning_rate = float(rule.lr) if learning_rate is None else learning_rate
        super().__init__(learning_rate=learning_rate, name=name or f"lessons_{rule.name}",
                         **kwargs)
        self.rule = rule

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        self._slots = []
        for var in variables:
            dtype = keras.backend.standardize_dtype(var.dtype)
            initial = self.rule.init_state(np.zeros(var.shape, dtype=dtype), ops.NUMPY)
            prefix = var.path.replace("/", "_")
            self._slots.append({
                key: self.add_variable(shape=value.shape, dtype=var.dtype, name=f"{prefix}_{key}",
                                       initializer=_constant(value))
                for key, value in initial.items()})

    def update_step(self, gradient, variable, learning_rate):
        slots = self._slots[self._get_variable_index(variable)]
        dtype = variable.dtype
        t = kops.cast(self.iterations + 1, dtype)
        lr = kops.cast(learning_rate, dtype)
        g = kops.cast(gradient, dtype)
        # Read every value before assigning any: the rule is pure.
        state = {key: kops.convert_to_tensor(slot) for key, slot in slots.items()}
        new_p, new_state = self.rule.step(kops.convert_to_tensor(variable), g, state, t, lr, ops.get("keras"))
        for key, value in new_state.items():
            self.assign(slots[key], value)
        self.assign(variable, new_p)

    def get_config(self):
        config = super().get_config()
        config.update(rule=self.rule.name, flavor=self.rule.flavor, hparams=self.rule.hparams)
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from . import REGISTRY
        config = dict(config)
        rule = REGISTRY[config.pop("rule")](flavor=config.pop("flavor"), **config.pop("hparams"))
        return cls(rule, **config)


def _constant(value):
    def initializer(shape, dtype=None):
        return kops.convert_to_tensor(np.broadcast_to(value, shape), dtype=dtype)
    return initializer


def make_keras_optimizer(rule, learning_rate=None):
    return KerasOptimizer(rule, learning_rate)
