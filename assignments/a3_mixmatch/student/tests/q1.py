from otter.test_files import test_case

OK_FORMAT = False

name = "q1"
points = None

@test_case(points=1, hidden=False)
def test_worked_example(sharpen):
    import torch
    p = torch.tensor([[0.6, 0.3, 0.1]])
    assert torch.allclose(sharpen(p, 0.5), torch.tensor([[0.36, 0.09, 0.01]]) / 0.46, atol=1e-06)
    assert torch.allclose(sharpen(p, 1.0), p, atol=1e-06)

