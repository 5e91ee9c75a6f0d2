"""Run one of our rules as a real `torch.optim.Optimizer`."""
import torch

from .. import ops


class TorchOptimizer(torch.optim.Optimizer):
    """A torch optimizer whose update is `rule.step`, nothing else.

    Param groups may override any hyperparameter (and schedulers change
    `group["lr"]`), so each group gets a copy of the rule with its own values.
    The step counter is a Python int: no tensor, so no device sync.
    """

    def __init__(self, params, rule):
        self.rule = rule
        super().__init__(params, dict(rule.hparams))
        self._rules = {}

    def _rule_for(self, group):
        values = {k: group[k] for k in self.rule.hparams if k != "lr"}
        key = repr(sorted(values.items()))
        if key not in self._rules:
            self._rules[key] = self.rule.with_hparams(**values)
        return self._rules[key]

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        xp = ops.get("torch")
        for group in self.param_groups:
            rule = self._rule_for(group)
            for p in group["params"]:
                if p.grad is None:
                    continue
                if p.grad.is_sparse:
                    raise ValueError(f"{type(rule).__name__}.to_torch() does not support sparse "
                                     "gradients; use dense embeddings (sparse=False)")
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state.update(rule.init_state(p, xp))
                state["step"] += 1
                slots = {k: v for k, v in state.items() if k != "step"}
                new_p, slots = rule.step(p, p.grad, slots, state["step"], group["lr"], xp)
                p.copy_(new_p)
                state.update(slots)
        return loss
