from otter.test_files import test_case

OK_FORMAT = False

name = "q3"
points = None

@test_case(points=1, hidden=False)
def test_shape_and_no_gradient(guess_labels):
    import torch
    import torch.nn as nn
    torch.manual_seed(5)
    model = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3))
    q = guess_labels(model, [torch.randn(10, 6), torch.randn(10, 6)], 0.5)
    assert q.shape == (10, 3) and (not q.requires_grad)
    assert torch.allclose(q.sum(1), torch.ones(10), atol=1e-05)

