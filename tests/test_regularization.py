import pytest
import torch
import torch.nn.functional as F

from course_lib import Trainer, models
from course_lib.data import datasets, loaders
from course_lib.device import seed_everything
from course_lib.regularization import Flooding, l1_penalty


def test_flooding_is_the_formula_and_zero_level_is_the_plain_loss():
    outputs, targets = torch.randn(16, 5), torch.randint(0, 5, (16,))
    plain = F.cross_entropy(outputs, targets)
    for level in (0.1, 0.5, 3.0):
        assert Flooding(F.cross_entropy, level)(outputs, targets).item() == pytest.approx(
            abs(plain.item() - level) + level
        )
    assert Flooding(F.cross_entropy, 0)(outputs, targets).item() == plain.item()
    assert "level=0.5" in repr(Flooding(F.cross_entropy, 0.5))


def test_flooding_flips_the_gradient_below_the_level():
    outputs = torch.randn(8, 3, requires_grad=True)
    targets = torch.randint(0, 3, (8,))
    (plain_grad,) = torch.autograd.grad(F.cross_entropy(outputs, targets), outputs)
    loss = F.cross_entropy(outputs, targets).item()
    (above,) = torch.autograd.grad(Flooding(F.cross_entropy, loss / 2)(outputs, targets), outputs)
    (below,) = torch.autograd.grad(Flooding(F.cross_entropy, loss * 2)(outputs, targets), outputs)
    torch.testing.assert_close(above, plain_grad)
    torch.testing.assert_close(below, -plain_grad)  # gradient ascent: the loss is pushed back up to b


@pytest.mark.parametrize("bad", [-0.1, "0.1", None])
def test_flooding_rejects_bad_levels(bad):
    with pytest.raises(ValueError, match="level"):
        Flooding(F.cross_entropy, bad)
    with pytest.raises(ValueError, match="loss_fn"):
        Flooding("cross_entropy", 0.1)


def test_flooded_training_loss_hovers_near_the_level():
    """On noisy labels a plain run drives the training loss far below b; a flooded one stays near it."""
    split = datasets.load_digits_split()
    g = torch.Generator().manual_seed(0)
    X, y = split.X_train[:200], split.y_train[:200].clone()
    noisy = torch.randperm(200, generator=g)[:40]
    y[noisy] = (y[noisy] + torch.randint(1, 10, (40,), generator=g)) % 10
    level = 0.4

    def run(loss_fn):
        seed_everything(0)
        model = models.MLP(64, 10, width=256)
        trainer = Trainer(
            model,
            torch.optim.Adam(model.parameters(), lr=3e-3),
            loss_fn=loss_fn,
            progress=False,
            device="cpu",
            metrics={"ce": F.cross_entropy},
            train_metrics=True,
        )
        return trainer.fit(loaders.DeviceLoader(X, y, batch_size=40, seed=0), num_epochs=40).epoch["train_ce"]

    plain, flooded = run(F.cross_entropy), run(Flooding(F.cross_entropy, level))
    assert sum(plain[-5:]) / 5 < level / 2
    assert abs(sum(flooded[-5:]) / 5 - level) < 0.25 * level


def test_l1_penalty_counts_weights_not_biases():
    model = models.MLP(3, 2, width=4, depth=1, batch_norm=True)
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(-0.5)
    weights = 3 * 4 + 4 * 2
    everything = sum(p.numel() for p in model.parameters())
    assert l1_penalty(model).item() == pytest.approx(0.5 * weights)
    assert l1_penalty(model, weights_only=False).item() == pytest.approx(0.5 * everything)
    penalty = l1_penalty(model)
    penalty.backward()
    assert torch.equal(model[0].weight.grad, -torch.ones(4, 3)) and model[0].bias.grad is None
    with pytest.raises(ValueError, match="model"):
        l1_penalty([1, 2])
    with pytest.raises(ValueError, match="no parameters"):
        l1_penalty(torch.nn.ReLU())
