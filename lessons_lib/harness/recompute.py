"""Activation checkpointing: keep fewer activations, recompute them in backward.

Backpropagation needs every layer's input again on the way back, so a plain
forward pass keeps all of them: memory ∝ depth L. Checkpointing a sequential
model in s segments keeps only each segment's input during the forward pass
and recomputes a segment's activations when backward reaches it: memory
∝ s + L/s (smallest, ∝ 2√L, at s = √L), for about one more forward pass of
compute. The gradients are the same numbers: the recomputation repeats the
same operations (dropout replays its mask: the RNG state is saved).
"""
from __future__ import annotations

import math

import torch
from torch.utils.checkpoint import checkpoint_sequential


class ActivationCheckpointed(torch.nn.Module):
    """`sequential` run through `checkpoint_sequential` in `segments` segments
    (default ⌈√L⌉ for L layers) while gradients are recorded; plainly otherwise."""

    def __init__(self, sequential, segments=None):
        super().__init__()
        if not isinstance(sequential, torch.nn.Sequential):
            raise ValueError("activation_checkpointing needs the model as a torch.nn.Sequential "
                             "(its layers are cut into segments); got "
                             f"{type(sequential).__name__}. Wrap the deep part of your model "
                             "in ActivationCheckpointed yourself instead")
        layers = len(sequential)
        segments = math.ceil(math.sqrt(layers)) if segments is None else segments
        if not (isinstance(segments, int) and 1 <= segments <= layers):
            raise ValueError(f"segments must be an int from 1 to the number of layers "
                             f"({layers}); got segments={segments!r}")
        self.inner, self.segments = sequential, segments

    def forward(self, x):
        if not torch.is_grad_enabled():
            return self.inner(x)
        return checkpoint_sequential(self.inner, self.segments, x, use_reentrant=False)


def saved_activation_bytes(model, x, loss=lambda out: out.float().pow(2).mean()):
    """Bytes of the tensors autograd keeps for backward during `loss(model(x))`
    (measured with saved-tensor hooks: what a forward pass holds on to, on any
    device), excluding the parameters themselves, which are kept anyway."""
    params = {p.data_ptr() for p in model.parameters()}
    seen, total = set(), 0

    def pack(tensor):
        nonlocal total
        key = (tensor.data_ptr(), tensor.dtype, tuple(tensor.shape))
        if tensor.data_ptr() not in params and key not in seen:
            seen.add(key)
            total += tensor.numel() * tensor.element_size()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        value = loss(model(x))
    value.backward()
    return total
