from otter.test_files import test_case

OK_FORMAT = False

name = "q3"
points = None

@test_case(points=2, hidden=False)
def test_beats_the_floor(floor_acc, fixmatch_acc):
    assert floor_acc is not None and fixmatch_acc is not None, 'run the training cell'
    assert fixmatch_acc >= floor_acc + 0.01, f'FixMatch {fixmatch_acc:.3f} should beat the floor {floor_acc:.3f} by a point'

