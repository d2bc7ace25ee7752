import pytest
import torch

from ssl_teach import augment
from ssl_teach.checkpoint import load_checkpoint, save_checkpoint
from ssl_teach.config import set_seed
from ssl_teach.data import make_ssl_data
from ssl_teach.methods import Batch, Method, Supervised
from ssl_teach.models import SmallCNN
from ssl_teach.train import History, fit

FAST = {"batch_size": 8, "mu": 2, "progress": False}


class Consistency(Method):
    """A small semi-supervised method for the loop's tests: CE + MSE between two views."""

    name = "consistency"

    def __init__(self, model) -> None:
        super().__init__(model, ema_decay=0.9)
        self.weak, _ = augment.for_dataset("mnist")
        self.seen_unlabeled = 0

    def loss(self, batch: Batch, step: int):
        n = len(batch.x_labeled)
        logits = self.model(self.weak(torch.cat([batch.x_labeled, batch.x_unlabeled, batch.x_unlabeled])))
        supervised = torch.nn.functional.cross_entropy(logits[:n], batch.y_labeled)
        a, b = logits[n:].softmax(1).chunk(2)
        consistency = ((a - b) ** 2).mean()
        self.seen_unlabeled += len(batch.x_unlabeled)
        return supervised + consistency, {"loss_labeled": supervised.item(), "loss_unlabeled": consistency.item()}


def supervised(seed: int = 0) -> Supervised:
    set_seed(seed)
    return Supervised(SmallCNN(width=8), augment.for_dataset("mnist")[0], ema_decay=0.9)


def test_fit_runs_and_records_history(tiny_dataset):
    data = make_ssl_data(tiny_dataset, n_per_class=3, n_val_per_class=2)
    method = Consistency(SmallCNN(width=8))
    history = fit(method, data, "smoke", steps=6, eval_every=3, **FAST)
    assert history.eval["step"] == [3.0, 6.0]
    assert set(history.eval) == {"step", "test_acc", "val_acc", "time"}
    assert {"loss", "loss_labeled", "loss_unlabeled", "lr", "step"} <= set(history.train)
    assert method.seen_unlabeled == 6 * 2 * 8  # mu * batch_size unlabeled images per step
    assert 0.0 <= history.final_accuracy <= 1.0
    lrs = history.train["lr"]
    assert lrs[0] > lrs[-1] > 0  # cosine decay
    assert method.model.training  # back in train mode after evaluating


def test_training_learns_the_synthetic_task(tiny_dataset):
    data = make_ssl_data(tiny_dataset, n_per_class=10)
    history = fit(supervised(), data, "smoke", steps=120, eval_every=120, **FAST)
    assert history.final_accuracy >= 0.8  # chance is 0.1


def test_checkpoint_then_resume_equals_an_uninterrupted_run(tiny_dataset, tmp_path):
    data = make_ssl_data(tiny_dataset, n_per_class=3)
    set_seed(0)
    initial = SmallCNN(width=8).state_dict()
    reference = Consistency(SmallCNN(width=8))
    reference.model.load_state_dict(initial)
    fit(reference, data, "smoke", steps=8, eval_every=4, seed=1, **FAST)

    crashing = Consistency(SmallCNN(width=8))
    crashing.model.load_state_dict(initial)
    original_loss = crashing.loss

    def crash_at_step_6(batch, step):
        if step == 6:
            raise KeyboardInterrupt
        return original_loss(batch, step)

    crashing.loss = crash_at_step_6
    path = tmp_path / "run.pt"
    with pytest.raises(KeyboardInterrupt):
        fit(crashing, data, "smoke", steps=8, eval_every=4, seed=1, checkpoint=path, **FAST)
    assert load_checkpoint(path)["step"] == 4

    resumed = Consistency(SmallCNN(width=8))  # fresh weights: all must come from the file
    history = fit(resumed, data, "smoke", steps=8, eval_every=4, seed=1, checkpoint=path,
                  resume=True, **FAST)
    for name, value in reference.model.state_dict().items():
        assert torch.equal(value, resumed.model.state_dict()[name]), name
    for name, value in reference.ema.model.state_dict().items():
        assert torch.equal(value, resumed.ema.model.state_dict()[name]), name
    assert history.eval["step"] == [4.0, 8.0]


def test_resume_refuses_a_checkpoint_of_another_run(tiny_dataset, tmp_path):
    data = make_ssl_data(tiny_dataset, n_per_class=3)
    path = tmp_path / "run.pt"
    fit(supervised(), data, "smoke", steps=2, checkpoint=path, **FAST)
    with pytest.raises(ValueError, match="written by a different run"):
        fit(supervised(), data, "smoke", steps=3, checkpoint=path, resume=True, **FAST)


def test_corrupt_checkpoint_names_the_file(tmp_path, tiny_dataset):
    path = tmp_path / "broken.pt"
    save_checkpoint({"step": 1}, path)
    path.write_bytes(path.read_bytes()[:50])  # truncated
    with pytest.raises(ValueError, match=r"broken.pt could not be read: it is corrupt"):
        load_checkpoint(path)
    data = make_ssl_data(tiny_dataset, n_per_class=3)
    with pytest.raises(ValueError, match="corrupt"):
        fit(supervised(), data, "smoke", steps=2, checkpoint=path, resume=True, **FAST)


def test_checkpoint_loading_refuses_pickled_code(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"format": "ssl_teach-checkpoint-1", "payload": History("x")}, path)
    with pytest.raises(ValueError, match="could not be read"):
        load_checkpoint(path)  # weights_only=True refuses arbitrary classes
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(2)}, other)
    with pytest.raises(ValueError, match="not an ssl_teach checkpoint"):
        load_checkpoint(other)


def test_checkpoint_write_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "run.pt"
    save_checkpoint({"step": 1}, path)

    def failing_save(obj, f):
        f.write(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", failing_save)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint({"step": 2}, path)
    monkeypatch.undo()
    assert load_checkpoint(path)["step"] == 1  # the old checkpoint survives intact
    assert [p.name for p in tmp_path.iterdir()] == ["run.pt"]  # no temporary file left


def test_nan_loss_stops_with_the_step_and_the_terms(tiny_dataset):
    data = make_ssl_data(tiny_dataset, n_per_class=3)
    method = supervised()
    method.loss = lambda batch, step: (torch.tensor(float("nan"), requires_grad=True), {"loss_labeled": 1.0})
    with pytest.raises(FloatingPointError, match=r"is nan at step 0 \(terms: \{'loss_labeled': 1.0\}\)"):
        fit(method, data, "smoke", steps=3, **FAST)


def test_a_method_that_needs_unlabeled_data_refuses_an_empty_set(tiny_dataset):
    data = make_ssl_data(tiny_dataset, n_per_class=None)
    with pytest.raises(ValueError, match="data.unlabeled is empty, but consistency learns"):
        fit(Consistency(SmallCNN(width=8)), data, "smoke", steps=2, **FAST)


@pytest.mark.parametrize("kwargs, message", [
    ({"steps": 0}, "steps must be an int >= 1, got 0"),
    ({"batch_size": -4}, "batch_size must be an int >= 1"),
    ({"lr": float("nan")}, "lr must be a finite number"),
    ({"resume": True}, "resume=True needs checkpoint"),
])
def test_bad_arguments_are_named(tiny_dataset, kwargs, message):
    data = make_ssl_data(tiny_dataset, n_per_class=3)
    with pytest.raises(ValueError, match=message):
        fit(supervised(), data, "smoke", **{**FAST, **kwargs})


def test_unknown_profile(tiny_dataset):
    with pytest.raises(ValueError, match="unknown profile 'laptop'"):
        fit(supervised(), make_ssl_data(tiny_dataset, 3), "laptop", progress=False)
