from otter.test_files import test_case

OK_FORMAT = False

name = "q3"
points = None

@test_case(points=1, hidden=False)
def test_ends_middle_and_after(rampup_weight):
    import math
    assert abs(rampup_weight(0, 10.0, 100) - 10 * math.exp(-5)) < 1e-09, 'w(0) = w_max exp(-5) (chapter 3)'
    assert abs(rampup_weight(50, 10.0, 100) - 10 * math.exp(-1.25)) < 1e-09, f'half way, w = w_max exp(-5 (1/2)^2) = {10 * math.exp(-1.25):.4f}, got {rampup_weight(50, 10.0, 100)} (mind integer division and the square)'
    assert abs(rampup_weight(100, 10.0, 100) - 10.0) < 1e-09, 'at rampup_steps, w = w_max'
    assert abs(rampup_weight(250, 10.0, 100) - 10.0) < 1e-09, f'after the ramp the weight stays at w_max, got {rampup_weight(250, 10.0, 100)} (clamp t at 1)'

