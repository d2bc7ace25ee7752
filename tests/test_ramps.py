import math

import pytest

from ssl_teach.ramps import cosine_lr_factor, linear_rampup, sigmoid_rampup


def test_linear_rampup_at_start_middle_end_and_after():
    assert linear_rampup(0, 100) == 0.0
    assert linear_rampup(25, 100) == 0.25
    assert linear_rampup(100, 100) == 1.0
    assert linear_rampup(500, 100) == 1.0
    assert linear_rampup(3, 0) == 1.0


def test_sigmoid_rampup_follows_exp_minus_five_one_minus_t_squared():
    assert sigmoid_rampup(0, 100) == pytest.approx(math.exp(-5))
    assert sigmoid_rampup(50, 100) == pytest.approx(math.exp(-5 * 0.25))
    assert sigmoid_rampup(100, 100) == 1.0
    assert sigmoid_rampup(1000, 100) == 1.0


def test_cosine_learning_rate_factor():
    assert cosine_lr_factor(0, 10) == 1.0
    assert cosine_lr_factor(10, 10) == pytest.approx(math.cos(7 * math.pi / 16))
    assert cosine_lr_factor(5, 10) == pytest.approx(math.cos(7 * math.pi / 32))


@pytest.mark.parametrize("step, length", [(-1, 10), (1, -10)])
def test_negative_arguments_are_refused(step, length):
    with pytest.raises(ValueError, match="must be >= 0"):
        linear_rampup(step, length)
