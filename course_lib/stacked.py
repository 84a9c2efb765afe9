"""K stacked copies of one model, trained at once: the batched forward pass and torch.optim's update.

``sweep.run_sweep`` is built on these. Each parameter's K copies are one ``(K, *shape)`` tensor; the
forward pass runs all members together (batched matrix products for an MLP, else ``torch.func.vmap``
over ``functional_call``), and the optimizer updates are torch.optim's own formulas written once for
the whole stack, with a per-member column for each hyperparameter.
"""
from __future__ import annotations

import torch
from torch import nn

ELEMENTWISE = (nn.ReLU, nn.Tanh, nn.Sigmoid, nn.GELU, nn.Identity)  # layers the batched MLP applies as they are


def member_losses(name: str):
    def losses(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:  # (K, B, ...) -> (K,)
        K, B = outputs.shape[:2]
        if name == "cross_entropy":
            per_sample = nn.functional.cross_entropy(outputs.reshape(K * B, -1), targets.repeat(K), reduction="none")
            return per_sample.view(K, B).mean(1)
        if outputs.shape[1:] != targets.shape:
            raise ValueError(f"loss='mse' needs targets shaped like one member's outputs {tuple(outputs.shape[1:])}, got {tuple(targets.shape)}")
        return nn.functional.mse_loss(outputs, targets.expand_as(outputs), reduction="none").reshape(K, -1).mean(1)

    losses.name = name
    return losses


class StackedModel:
    """K stacked copies of ``model``: ``params`` are ``(K, *shape)`` leaf tensors and ``net(x)`` is ``(K, B, out)``.

    For an MLP each Linear weight is stacked so that the small dimension comes first: ``(K, in, out)``
    (transposed) when ``in <= out``, else ``(K, out, in)`` as ``nn.Linear`` has it. Batched matrix
    products with a long, thin result (an output layer of 2 units) are several times slower in
    oneDNN/MKL than the same products written with the thin side first, in the forward pass and in the
    weight gradient alike. :meth:`member_parameters` gives a member's weights as the model has them.
    """

    def __init__(self, model: nn.Module, K: int):
        self.model, self.names = model, [name for name, _ in model.named_parameters()]
        self.layers = list(model.children()) if isinstance(model, nn.Sequential) else []
        self.is_mlp = bool(self.layers) and all(isinstance(m, (nn.Linear, *ELEMENTWISE)) for m in self.layers)
        self.transposed = [self.is_mlp and p.dim() == 2 and p.shape[1] <= p.shape[0] for p in model.parameters()]
        self.params = [(p.detach().t() if t else p.detach()).unsqueeze(0).repeat(K, *[1] * p.dim()).requires_grad_()
                       for p, t in zip(model.parameters(), self.transposed)]

    def member_parameters(self, k: int) -> list[torch.Tensor]:
        return [p[k].t() if t else p[k] for p, t in zip(self.params, self.transposed)]

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self._mlp(x) if self.is_mlp else self._vmap(x)

    def _mlp(self, x: torch.Tensor) -> torch.Tensor:
        """Linear layers as batched matrix products: weights (K, in, out) or (K, out, in), biases (K, out)."""
        params, h = iter(zip(self.params, self.transposed)), x
        for layer in self.layers:
            if not isinstance(layer, nn.Linear):  # an elementwise activation works on any shape
                h = h.relu_() if isinstance(layer, nn.ReLU) and h is not x else layer(h)  # in place saves a pass
                continue
            weight, transposed = next(params)
            bias = next(params)[0] if layer.bias is not None else None
            if h.dim() == 2:  # the shared input batch (B, in), seen by every member
                h = h.expand(len(weight), *h.shape)
            h = torch.bmm(h, weight if transposed else weight.transpose(1, 2))  # (K, B, out) = h W^T
            if bias is not None:
                h = h.add_(bias.unsqueeze(1))
        return h

    def _vmap(self, x: torch.Tensor) -> torch.Tensor:
        """Any stateless model: ``functional_call`` vmapped over the stacked parameters."""
        from torch.func import functional_call, vmap

        def one_member(params, inputs):
            return functional_call(self.model, dict(zip(self.names, params)), (inputs,))

        return vmap(one_member, in_dims=(0, None))(self.params, x)


class StackedUpdate:
    """torch.optim's SGD / Adam / AdamW step for K members at once, rounded as torch.optim rounds.

    torch's ``a.add(b, alpha=c)`` rounds once (a fused multiply-add); ``torch.addcmul(a, c, b)`` with
    a per-member column ``c`` does the same, so the update adds no rounding of its own to what the
    forward and backward passes bring (tests/test_sweep.py). Scalars such as ``1 - beta1 ** step`` are
    computed in Python floats, as torch.optim computes them.
    """

    def __init__(self, optimizer: str, hyper: list[dict], device, eps: float):
        self.kind, self.eps, self.count, self.device = optimizer, eps, 0, device
        lr, wd = [m["lr"] for m in hyper], [m["weight_decay"] for m in hyper]
        self.values = {"-lr": [-v for v in lr], "wd": wd, "1-lr*wd": [1 - a * b for a, b in zip(lr, wd)]}
        self.use_l2 = any(wd) and optimizer != "adamw"  # torch.optim skips the L2 term when wd == 0
        if optimizer in ("momentum", "nesterov"):
            self.values["momentum"] = [m["momentum"] for m in hyper]
        if optimizer in ("adam", "adamw"):
            self.beta1, self.beta2 = [m["betas"][0] for m in hyper], [m["betas"][1] for m in hyper]
            self.values.update({"beta2": self.beta2, "1-beta1": [1 - b for b in self.beta1], "1-beta2": [1 - b for b in self.beta2]})
        self.state: list[dict] = []
        self.columns: dict = {}
        self.frozen_rows, self.frozen_values = torch.zeros(0, dtype=torch.long), []

    def col(self, name: str, like: torch.Tensor) -> torch.Tensor:
        """Per-member values as a (K, 1, ..., 1) tensor that broadcasts over a stacked parameter."""
        key = (name, like.dim(), like.dtype)
        if key not in self.columns:
            values = torch.tensor(self.values[name], dtype=like.dtype, device=self.device)
            self.columns[key] = values.view(-1, *[1] * (like.dim() - 1))
        return self.columns[key]

    def step(self, params: list[torch.Tensor], active: list[bool]) -> None:
        self.count += 1
        if self.kind in ("adam", "adamw"):  # the bias corrections change every step
            self.values["-step_size"] = [neg_lr / (1 - b1 ** self.count) for neg_lr, b1 in zip(self.values["-lr"], self.beta1)]
            self.values["bias_correction2_sqrt"] = [(1 - b2 ** self.count) ** 0.5 for b2 in self.beta2]
            self.columns = {k: v for k, v in self.columns.items() if k[0] not in ("-step_size", "bias_correction2_sqrt")}
        self.state = self.state or [{} for _ in params]
        frozen = [k for k, is_active in enumerate(active) if not is_active]
        if len(frozen) != len(self.frozen_rows):  # a member diverged at this step: keep its weights from before it
            self.frozen_rows = torch.tensor(frozen, device=self.device)
            self.frozen_values = [p.detach()[self.frozen_rows].clone() for p in params]
        for p, state, frozen_values in zip(params, self.state, self.frozen_values or [None] * len(params)):
            self._update(p.detach(), p.grad, state)  # in place, every member
            if frozen_values is not None:
                p.detach().index_copy_(0, self.frozen_rows, frozen_values)  # frozen members back to their weights
            p.grad = None

    def _update(self, p, grad, state) -> None:
        col = self.col
        if self.use_l2:
            grad = torch.addcmul(grad, col("wd", p), p)  # L2 weight decay: grad + wd * w
        if self.kind in ("sgd", "momentum", "nesterov"):
            if self.kind != "sgd":
                buf = state.get("momentum_buffer")
                buf = grad.clone() if buf is None else buf.mul_(col("momentum", p)).add_(grad)  # dampening 0
                state["momentum_buffer"] = buf
                grad = torch.addcmul(grad, col("momentum", p), buf) if self.kind == "nesterov" else buf
            p.addcmul_(col("-lr", p), grad)  # w - lr * grad
            return
        if self.kind == "adamw":  # decoupled weight decay: shrink the weights, leave the gradient alone
            p.mul_(col("1-lr*wd", p))
        if not state:
            state["exp_avg"], state["exp_avg_sq"] = torch.zeros_like(p), torch.zeros_like(p)
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        exp_avg.lerp_(grad, col("1-beta1", p))  # m <- beta1 m + (1 - beta1) g
        exp_avg_sq.mul_(col("beta2", p)).addcmul_(col("1-beta2", p) * grad, grad)  # v <- beta2 v + (1 - beta2) g^2
        denom = exp_avg_sq.sqrt().div_(col("bias_correction2_sqrt", p)).add_(self.eps)  # eps outside the square root
        p.add_(col("-step_size", p) * exp_avg / denom)  # step size lr / (1 - beta1^t)
