"""K stacked copies of one model, trained at once: batched forward and backward passes and torch.optim's update.

``sweep.run_sweep`` is built on these. Each parameter's K copies are one ``(K, *shape)`` tensor, laid
out as the model has it (a Linear weight is ``(K, out, in)``), so member k's weights are ``p[k]``. An
MLP runs all members as batched matrix products with a backward pass written out (see
:meth:`StackedModel.loss_and_gradients` for why); any other stateless model runs through
``torch.func.vmap`` over ``functional_call`` and autograd. The optimizer updates are torch.optim's own
formulas written once for the whole stack, with a per-member column for each hyperparameter.
"""

from __future__ import annotations

import torch
from torch import nn

ELEMENTWISE = (nn.ReLU, nn.Tanh, nn.Sigmoid, nn.GELU, nn.Identity)  # layers the batched MLP applies as they are


def member_losses(name: str):
    """Each member's mean loss, ``(K, B, ...)`` outputs -> ``(K,)``, through autograd (evaluation, the vmap path)."""

    def losses(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        K, B = outputs.shape[:2]
        if name == "cross_entropy":  # classes in dim 1, as cross_entropy takes (N, C, d): no copy of the logits
            return nn.functional.cross_entropy(outputs.movedim(-1, 1), targets.expand(K, B), reduction="none").mean(1)
        _check_mse_targets(outputs.shape[1:], targets)
        return nn.functional.mse_loss(outputs, targets.expand_as(outputs), reduction="none").reshape(K, -1).mean(1)

    losses.name = name
    return losses


def losses_and_gradient(name: str, outputs: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor):
    """Each member's loss ``(K,)`` and the gradient of ``sum_k weights[k] * loss_k`` for feature-major outputs ``(K, C, B)``.

    The textbook formulas, written out: softmax minus one-hot for cross-entropy, ``2 (y - t) / n`` for
    the squared error. Through autograd, the engine's own bookkeeping took three times as long as
    these few operations on 32 x 2 x 128 numbers.
    """
    K, C, B = outputs.shape
    if name == "cross_entropy":
        index = targets.view(1, 1, B).expand(K, 1, B)
        log_probs = outputs.log_softmax(1)
        losses = log_probs.gather(1, index).mean(-1).view(K).neg()  # mean of -log p(target), as cross_entropy
        grad = log_probs.exp_().scatter_add_(1, index, torch.tensor(-1.0, device=outputs.device).expand(K, 1, B))
        return losses, grad.mul_((weights / B).view(K, 1, 1))
    _check_mse_targets((B, C), targets)
    diff = outputs - targets.t()
    return diff.square().mean((1, 2)), diff.mul_((weights * (2 / (B * C))).view(K, 1, 1))


def _check_mse_targets(shape, targets: torch.Tensor) -> None:
    if tuple(shape) != tuple(targets.shape):
        raise ValueError(
            f"loss='mse' needs targets shaped like one member's outputs {tuple(shape)}, got {tuple(targets.shape)}"
        )


class StackedModel:
    """K stacked copies of ``model``: ``params`` are ``(K, *shape)`` leaf tensors and ``net(x)`` is ``(K, B, out)``.

    An MLP works *feature-major*: a layer's activations are ``(K, features, B)`` and a Linear layer is
    ``W @ h + b`` with ``W`` as ``nn.Linear`` stores it. Every product then has its thin side first
    (an output layer of 2 units: ``(K, 2, 64) @ (K, 64, B)``, its weight gradient
    ``(K, 2, B) @ (K, B, 64)``), which oneDNN/MKL run about 6 times faster than the same products
    with the thin side last; and the first layer, whose input all members share, is one plain GEMM
    ``(K*out, in) @ (in, B)`` instead of K products with a stride-0 (expanded) input.
    """

    def __init__(self, model: nn.Module, K: int):
        self.model, self.K, self.names = model, K, [name for name, _ in model.named_parameters()]
        self.layers = list(model.children()) if isinstance(model, nn.Sequential) else []
        self.is_mlp = bool(self.layers) and all(isinstance(m, (nn.Linear, *ELEMENTWISE)) for m in self.layers)
        self.params = [p.detach().unsqueeze(0).repeat(K, *[1] * p.dim()).requires_grad_() for p in model.parameters()]
        self.buffers: dict = {}  # batch size -> the MLP's activations and gradients, reused at every step

    def member_parameters(self, k: int) -> list[torch.Tensor]:
        return [p[k] for p in self.params]

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if not self.is_mlp:
            return self._vmap(x)
        if torch.is_grad_enabled():
            return self._mlp(x)[-1].transpose(1, 2)
        return self._mlp(x, self._buffers(len(x), x.device))[-1].transpose(1, 2).clone()  # evaluation: no fresh memory

    def loss_and_gradients(self, x: torch.Tensor, targets: torch.Tensor, loss: str, active: torch.Tensor):
        """One training step's passes: each member's loss ``(K,)`` and one gradient per parameter.

        A member where ``active`` is False adds nothing to the loss that is differentiated. For an MLP
        both passes are written out over buffers kept from one step to the next: a step needs several
        ``(K, 64, B)`` tensors of 1 MB, and memory fresh from the allocator (glibc returns freed blocks
        this large to the system) costs a page fault per 4 kB, which made the elementwise passes over
        it 5 times slower than over memory in use (and doubled the time of the step's cheap parts).
        """
        if not self.is_mlp:
            for p in self.params:
                p.grad = None
            losses = member_losses(loss)(self(x), targets)
            torch.where(active, losses, 0.0).sum().backward()
            return losses.detach(), [p.grad for p in self.params]
        with torch.no_grad():
            hs = self._mlp(x, self._buffers(len(x), x.device))
            losses, grad = losses_and_gradient(loss, hs[-1], targets, active.to(hs[-1].dtype))
            return losses, self._backward(hs, grad)

    def _mlp(self, x: torch.Tensor, buffers: dict | None = None) -> list[torch.Tensor]:
        """Every layer's input, then the output, each ``(K, features, B)``; the shared input is ``(in, B)``.

        With ``buffers`` each Linear writes into its buffer (``out=``) and ReLU works in place; without,
        the same operations allocate, and autograd can follow them.
        """
        h = x.t().contiguous() if buffers is None else buffers["input"].copy_(x.t())  # (in, B)
        hs, params = [h], iter(self.params)
        for i, layer in enumerate(self.layers):
            if isinstance(layer, nn.Linear):
                weight, out = next(params), buffers[i] if buffers is not None else None
                bias = next(params) if layer.bias is not None else torch.zeros(weight.shape[:2], device=weight.device)
                if h.dim() == 2:  # the shared input: one GEMM (K*out, in) @ (in, B) for all members
                    K, n_out, n_in = weight.shape
                    flat = torch.addmm(
                        bias.reshape(K * n_out, 1),
                        weight.reshape(K * n_out, n_in),
                        h,
                        out=None if out is None else out.view(K * n_out, -1),
                    )
                    h = flat.view(K, n_out, -1)
                else:
                    h = torch.baddbmm(bias.unsqueeze(-1), weight, h, out=out)  # (K, out, B) = W h + b
            elif isinstance(layer, nn.ReLU) and buffers is not None:
                h = h.relu_()  # in place: its backward needs only the output
            else:
                h = layer(h)  # an elementwise activation works on any shape
            hs.append(h)
        return hs

    def _backward(self, hs: list[torch.Tensor], grad: torch.Tensor) -> list[torch.Tensor]:
        """Backpropagation through the stacked layers from the outputs' gradient, every product thin side first."""
        buffers, grads, index = self.buffers[grad.shape[-1]], self.buffers["grads"], len(self.params)
        for i in reversed(range(len(self.layers))):
            layer, h = self.layers[i], hs[i]  # h: this layer's input
            if isinstance(layer, nn.Linear):
                if layer.bias is not None:
                    index -= 1
                    torch.sum(grad, -1, out=grads[index])
                index -= 1
                weight, K, n_out = self.params[index], *self.params[index].shape[:2]
                if h.dim() == 2:  # the shared input (in, B) is contiguous, so (B, in) is read thin side first
                    torch.mm(grad.reshape(K * n_out, -1), h.t(), out=grads[index].view(K * n_out, -1))
                    break  # no gradient for the input, nor for the layers before it
                torch.bmm(grad, h.transpose(1, 2), out=grads[index])  # dW = dz h^T
                grad = torch.bmm(weight.transpose(1, 2), grad, out=buffers["grad", i])  # dh = W^T dz
            elif h.dim() == 2:
                break
            elif isinstance(layer, nn.ReLU):  # autograd's own kernel for relu: grad where the output > 0, else 0
                grad = torch.ops.aten.threshold_backward.grad_input(grad, hs[i + 1], 0, grad_input=grad)
            else:
                with torch.enable_grad():
                    h = h.detach().requires_grad_()
                    (grad,) = torch.autograd.grad(layer(h), h, grad)
        return grads

    def _buffers(self, batch_size: int, device) -> dict:
        if "grads" not in self.buffers:
            self.buffers["grads"] = [torch.empty_like(p, requires_grad=False) for p in self.params]
        if batch_size not in self.buffers:  # an epoch's last batch may be smaller: a second set
            first = next(layer for layer in self.layers if isinstance(layer, nn.Linear))
            buffers = {"input": torch.empty(first.in_features, batch_size, device=device)}
            for i, layer in enumerate(self.layers):
                if isinstance(layer, nn.Linear):
                    buffers[i] = torch.empty(self.K, layer.out_features, batch_size, device=device)
                    buffers["grad", i] = torch.empty(self.K, layer.in_features, batch_size, device=device)
            self.buffers[batch_size] = buffers
        return self.buffers[batch_size]

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
            self.values.update(
                {"beta2": self.beta2, "1-beta1": [1 - b for b in self.beta1], "1-beta2": [1 - b for b in self.beta2]}
            )
        self.state: list[dict] = []
        self.columns: dict = {}
        self.frozen_rows, self.frozen_values = torch.zeros(0, dtype=torch.long, device=device), []

    def col(self, name: str, like: torch.Tensor) -> torch.Tensor:
        """Per-member values as a (K, 1, ..., 1) tensor that broadcasts over a stacked parameter."""
        key = (name, like.dim(), like.dtype)
        if key not in self.columns:
            values = torch.tensor(self.values[name], dtype=like.dtype, device=self.device)
            self.columns[key] = values.view(-1, *[1] * (like.dim() - 1))
        return self.columns[key]

    def freeze(self, params: list[torch.Tensor], members: list[int]) -> None:
        """Keep these members' weights as they are now (a diverged member), whatever later steps compute."""
        self.frozen_rows = torch.cat([self.frozen_rows, torch.tensor(members, dtype=torch.long, device=self.device)])
        self.frozen_values = [p.detach()[self.frozen_rows].clone() for p in params]

    def step(self, params: list[torch.Tensor], grads: list[torch.Tensor]) -> None:
        self.count += 1
        if self.kind in ("adam", "adamw"):  # the bias corrections change every step
            self.values["-step_size"] = [
                neg_lr / (1 - b1**self.count) for neg_lr, b1 in zip(self.values["-lr"], self.beta1)
            ]
            self.values["bias_correction2_sqrt"] = [(1 - b2**self.count) ** 0.5 for b2 in self.beta2]
            self.columns = {
                k: v for k, v in self.columns.items() if k[0] not in ("-step_size", "bias_correction2_sqrt")
            }
        self.state = self.state or [{} for _ in params]
        for p, grad, state, frozen_values in zip(params, grads, self.state, self.frozen_values or [None] * len(params)):
            self._update(p.detach(), grad, state)  # in place, every member
            if frozen_values is not None:
                p.detach().index_copy_(0, self.frozen_rows, frozen_values)  # frozen members back to their weights

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
