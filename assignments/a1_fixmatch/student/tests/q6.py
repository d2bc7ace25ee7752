from otter.test_files import test_case

OK_FORMAT = False

name = "q6"
points = None

@test_case(points=1, hidden=False)
def test_plausible(n_confident, inflation):
    assert isinstance(n_confident, int) and 0 <= n_confident <= 192, 'n_confident is a count of images (an int from 0 to 192)'
    assert isinstance(inflation, float) and inflation >= 1, 'dividing by mask.sum() (at most 192) instead of 192 can only make the loss larger: inflation >= 1'

