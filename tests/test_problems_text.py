"""The transformer on the standard library's bytes: corpus, windows, model, train_text and train_text_runs."""
import math

import pytest
import torch

from course_lib.problems import text


@pytest.fixture(scope="module")
def data():
    return text.text_data(size="smoke")


def test_corpus_is_the_fixed_modules_split_by_module(data, tmp_path):
    assert not set(text.TRAIN_MODULES) & set(text.VALID_MODULES)
    assert data.sources["train_modules"] == len(text.TRAIN_MODULES)
    assert 1_000_000 < len(data.train) < 3_000_000 and 100_000 < len(data.valid) < 300_000
    assert bytes(data.valid[:200].tolist()) == text.read_modules(text.VALID_MODULES)[:200]
    (tmp_path / "a.py").write_bytes(b"x = 1\r\ny = 2\r\n")
    assert text.read_modules(["a"], stdlib=str(tmp_path)) == b"x = 1\ny = 2\n"  # Windows line ends read as \n
    with pytest.raises(ValueError, match=r"no source for \['nothere'\]"):
        text.read_modules(["a", "nothere"], stdlib=str(tmp_path))


def test_windows_are_next_byte_pairs_repeatable_by_seed(data):
    loader = text.WindowLoader(data.train, context=16, batch_size=4, steps_per_epoch=3, seed=0)
    batches = list(loader)
    assert len(batches) == 3 and batches[0][0].shape == (4, 16) and batches[0][0].dtype == torch.long
    x, y = batches[0]
    assert torch.equal(x[:, 1:], y[:, :-1])
    again = list(text.WindowLoader(data.train, 16, 4, 3, seed=0))
    assert all(torch.equal(a[0], b[0]) for a, b in zip(batches, again))
    assert not torch.equal(next(iter(text.WindowLoader(data.train, 16, 4, 3, seed=1)))[0], x)
    valid = text.validation_batches(data.valid, 16, num_windows=10, batch_size=4)
    assert [len(b[0]) for b in valid] == [4, 4, 2]
    with pytest.raises(ValueError, match="context"):
        text.WindowLoader(data.train[:10], context=16, batch_size=4, steps_per_epoch=1)


@pytest.mark.parametrize("norm", text.NORMS)
def test_model_shapes_and_causality(norm):
    torch.manual_seed(0)
    model = text.TransformerLM(context=8, width=16, heads=2, layers=2, norm=norm)
    x = torch.randint(0, 256, (3, 8))
    out = model(x)
    assert out.shape == (3, 8, 256)
    changed = x.clone()
    changed[:, 5] = (changed[:, 5] + 1) % 256
    torch.testing.assert_close(model(changed)[:, :5], out[:, :5])  # no position sees the future
    assert not torch.allclose(model(changed)[:, 5:], out[:, 5:])


@pytest.mark.parametrize("kwargs, word", [({"norm": "mid"}, "norm"), ({"width": 10, "heads": 4}, "multiple of heads"),
                                          ({"layers": 0}, "layers")])
def test_bad_model_arguments_are_named(kwargs, word):
    with pytest.raises(ValueError, match=word):
        text.TransformerLM(**kwargs)
    with pytest.raises(ValueError, match="context"):
        text.TransformerLM(context=4)(torch.zeros(1, 5, dtype=torch.long))


def test_schedules_by_name():
    assert text.make_schedule("constant", 0.1, 10)(9) == 0.1
    assert text.make_schedule("cosine", 0.1, 10)(0) == 0.1 and text.make_schedule("cosine", 0.1, 10)(9) < 0.01
    step = text.make_schedule("step", 0.1, 100)
    assert (step(49), step(50), step(75)) == pytest.approx((0.1, 0.01, 0.001))
    warm = text.make_schedule("cosine", 0.1, 100, warmup_steps=10)
    assert warm(0) == pytest.approx(0.01) and warm(10) == pytest.approx(0.1)
    with pytest.raises(ValueError, match="schedule"):
        text.make_schedule("cyclic", 0.1, 10)
    with pytest.raises(ValueError, match="warmup_steps"):
        text.make_schedule("cosine", 0.1, 10, warmup_steps=10)


def test_train_text_learns_and_repeats_itself(data):
    a = text.train_text(lr=1e-2, num_steps=60, steps_per_epoch=20, size="smoke", data=data, device="cpu")
    b = text.train_text(lr=1e-2, num_steps=60, steps_per_epoch=20, size="smoke", data=data, device="cpu")
    history = a.history
    assert history.status == "completed" and history.num_steps == 60 and len(history.epoch["valid_loss"]) == 3
    assert history.step["loss"][0] > 5.0 and history.epoch["valid_loss"][-1] < 3.5  # ln 256 = 5.55 at the start
    assert history.step["loss"] == b.history.step["loss"]
    post = text.train_text(lr=1e-2, num_steps=20, steps_per_epoch=20, size="smoke", data=data, device="cpu", norm="post",
                           schedule="cosine", warmup_steps=5, optimizer="momentum", width=16)
    assert post.model.blocks[0].norm == "post" and post.model.token.weight.shape == (256, 16)
    assert post.history.step["lr"][0] == pytest.approx(1e-2 / 5)


@pytest.mark.parametrize("kwargs, word", [({"optimizer": "lion"}, "optimizer"), ({"num_steps": 12}, "multiple"),
                                          ({"schedule": "cyclic"}, "schedule"), ({"grad_clip": 0}, "grad_clip"),
                                          ({"size": "tiny"}, "size")])
def test_bad_training_arguments_are_named(kwargs, word, data):
    with pytest.raises(ValueError, match=word):
        text.train_text(**{"num_steps": 10, "steps_per_epoch": 5, "data": data, "device": "cpu", **kwargs})


def test_runs_keep_every_step_and_the_validation_curve(data):
    text._DATA[("smoke", text.stdlib_dir())] = data
    runs = text.train_text_runs([{"lr": 1e-2, "num_steps": 20}, {"lr": 1e-2, "num_steps": 20, "optimizer": "adam"}],
                                size="smoke", eval_every=10, device="cpu")
    assert [len(r.train_loss) for r in runs] == [20, 20] and runs[0].valid_steps == [10, 20]
    step, value = runs[0].best
    assert step in (10, 20) and value == min(runs[0].valid_loss) and math.isfinite(runs[1].final)
    with pytest.raises(ValueError, match="configs"):
        text.train_text_runs([])


def test_docstring_examples_run():
    import doctest

    from course_lib.problems import text as module

    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0
