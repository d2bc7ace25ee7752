from otter.test_files import test_case

OK_FORMAT = False

name = "q4"
points = None

@test_case(points=1, hidden=False)
def test_ends_middle_and_after(threshold_at):
    assert abs(threshold_at(0, 100, 0.7, 0.95) - 0.7) < 1e-09, 'at step 0 the threshold is tau_start'
    assert abs(threshold_at(50, 100, 0.7, 0.95) - 0.825) < 1e-09, f'half way it is half way: expected 0.825, got {threshold_at(50, 100, 0.7, 0.95)} (mind integer division)'
    assert abs(threshold_at(100, 100, 0.7, 0.95) - 0.95) < 1e-09, 'at ramp_steps it reaches tau_end'
    assert abs(threshold_at(400, 100, 0.7, 0.95) - 0.95) < 1e-09, f'after the ramp it stays at tau_end, got {threshold_at(400, 100, 0.7, 0.95)}'

