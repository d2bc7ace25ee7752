from otter.test_files import test_case

OK_FORMAT = False

name = "q4"
points = None

@test_case(points=1, hidden=False)
def test_three_phases(consistency_schedule):
    import math
    assert abs(consistency_schedule(0, 10.0, 100, 1000, 200) - 10 * math.exp(-5)) < 1e-09, 'it starts as the ramp-up'
    assert abs(consistency_schedule(500, 10.0, 100, 1000, 200) - 10.0) < 1e-09, 'between the ramps the weight is w_max'
    assert abs(consistency_schedule(900, 10.0, 100, 1000, 200) - 10 * math.exp(-1.25)) < 1e-09, f'half way down, d = exp(-5 (1/2)^2); got {consistency_schedule(900, 10.0, 100, 1000, 200)}'
    assert abs(consistency_schedule(1000, 10.0, 100, 1000, 200) - 10 * math.exp(-5)) < 1e-09, 'at total_steps, d = exp(-5)'

