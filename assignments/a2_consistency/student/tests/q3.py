from otter.test_files import test_case

OK_FORMAT = False

name = "q3"
points = None

@test_case(points=1, hidden=False)
def test_ends(rampup_weight):
    import math
    assert abs(rampup_weight(0, 10.0, 100) - 10 * math.exp(-5)) < 1e-09
    assert abs(rampup_weight(100, 10.0, 100) - 10.0) < 1e-09

