from otter.test_files import test_case

OK_FORMAT = False

name = "q3"
points = None

@test_case(points=1, hidden=False)
def test_plausible(my_val_acc):
    assert isinstance(my_val_acc, float) and 0.1 < my_val_acc <= 1.0, 'my_val_acc is an accuracy, a float between 0.1 and 1 (not a percentage)'

