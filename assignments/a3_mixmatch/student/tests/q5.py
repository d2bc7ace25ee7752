from otter.test_files import test_case

OK_FORMAT = False

name = "q5"
points = None

@test_case(points=1, hidden=False)
def test_plausible(mean_lambda):
    assert isinstance(mean_lambda, float) and 0.5 < mean_lambda <= 1, "with the max, every lambda' is at least 0.5, so their mean is above 0.5"

