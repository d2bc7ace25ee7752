from otter.test_files import test_case

OK_FORMAT = False

name = "q5"
points = None

@test_case(points=1, hidden=False)
def test_plausible(half_step):
    assert isinstance(half_step, int) and 0 <= half_step <= 100, 'half_step is a step of the ramp (an int from 0 to 100)'

