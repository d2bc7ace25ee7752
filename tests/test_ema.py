import pytest
import torch
import torch.nn as nn

from ssl_teach.ema import EMA


class TwoParameters(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Parameter(torch.tensor(1.0))
        self.b = nn.Parameter(torch.tensor(-2.0))
        self.register_buffer("count", torch.tensor(0.0))


def test_ema_follows_the_formula_with_its_warm_up():
    model = TwoParameters()
    ema = EMA(model, decay=0.9)
    expected_a, expected_b = 1.0, -2.0
    for step, (a, b) in enumerate([(3.0, 0.0), (5.0, 1.0), (-1.0, 4.0), (2.0, 2.0), (0.0, 0.0)]):
        with torch.no_grad():
            model.a.fill_(a)
            model.b.fill_(b)
            model.count.fill_(step)
        decay = min(1 - 1 / (step + 1), 0.9)  # 0, 1/2, 2/3, 0.75, then capped at 0.9
        expected_a = decay * expected_a + (1 - decay) * a
        expected_b = decay * expected_b + (1 - decay) * b
        ema.update(model)
        assert ema.model.a.item() == pytest.approx(expected_a)
        assert ema.model.b.item() == pytest.approx(expected_b)
        assert ema.model.count.item() == step  # buffers are copied, not averaged
    # the warm-up makes the first four updates a plain average of what was seen
    assert ema.num_updates == 5


def test_first_update_copies_and_early_updates_average():
    model = TwoParameters()
    ema = EMA(model, decay=0.999)
    with torch.no_grad():
        model.a.fill_(10.0)
    ema.update(model)
    assert ema.model.a.item() == 10.0
    with torch.no_grad():
        model.a.fill_(20.0)
    ema.update(model)
    assert ema.model.a.item() == pytest.approx(15.0)


def test_ema_model_takes_no_gradient_and_is_a_separate_copy():
    model = TwoParameters()
    ema = EMA(model, decay=0.5)
    assert all(not p.requires_grad for p in ema.model.parameters())
    with torch.no_grad():
        model.a.fill_(7.0)
    assert ema.model.a.item() == 1.0


def test_state_round_trip():
    model = TwoParameters()
    ema = EMA(model, decay=0.9)
    ema.update(model)
    other = EMA(TwoParameters(), decay=0.5)
    other.load_state_dict(ema.state_dict())
    assert other.num_updates == 1 and other.decay == 0.9


@pytest.mark.parametrize("decay", [-0.1, 1.0, 1.5, "0.9"])
def test_decay_outside_zero_one_is_refused(decay):
    with pytest.raises(ValueError, match=r"decay must be in \[0, 1\)"):
        EMA(TwoParameters(), decay)


def test_without_the_warm_up_the_weight_is_the_constant_decay_from_the_first_step():
    import torch.nn as nn

    from ssl_teach.ema import EMA
    model = nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        model.weight.fill_(0.0)
    ema = EMA(model, decay=0.9, warmup=False)
    assert ema.current_decay() == 0.9  # the official code's momentum, not min(1 - 1/(t+1), a) = 0
    with torch.no_grad():
        model.weight.fill_(1.0)
    ema.update(model)
    assert ema.model.weight.item() == pytest.approx(0.1)  # 0.9 * 0 + 0.1 * 1: the start still weighs 0.9
    warm = EMA(nn.Linear(1, 1, bias=False), decay=0.9)
    assert warm.current_decay() == 0.0  # the warm-up's first step copies the live weights


def test_the_constant_ema_simmatch_variant_differs_only_in_its_ema():
    from conftest import synthetic_dataset

    from ssl_teach.methods import SimMatch, SimMatchConstantEMA
    from ssl_teach.protocol import Run, build, protocol_data
    data = protocol_data(synthetic_dataset(n_per_class=60), 2, 0, "smoke", device="cpu")
    method = build(Run("simmatch_constant_ema", "mnist", 2, profile="smoke"), data)
    assert type(method) is SimMatchConstantEMA and isinstance(method, SimMatch)
    assert not method.ema.warmup and build(Run("simmatch", "mnist", 2, profile="smoke"), data).ema.warmup
    assert Run("simmatch_constant_ema", "mnist").config()["hyperparameters"] == \
        Run("simmatch", "mnist").config()["hyperparameters"]
