from otter.test_files import test_case

OK_FORMAT = False

name = "q4"
points = None

@test_case(points=1, hidden=False)
def test_uniform_mean_changes_nothing(distribution_alignment, p_w):
    import torch
    assert torch.allclose(distribution_alignment(p_w, torch.full((4,), 0.25)), p_w, atol=1e-06)

