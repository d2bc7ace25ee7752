from otter.test_files import test_case

OK_FORMAT = False

name = "q6"
points = None

@test_case(points=1, hidden=False)
def test_plausible(growth):
    assert isinstance(growth, float) and 0 < growth < 0.1, 'unfolding moves similarity towards class 1, so the mistake raises its p_hat, by less than (1 - a) = 0.1'

