from otter.test_files import test_case

OK_FORMAT = False

name = "q1"
points = None

@test_case(points=1, hidden=False)
def test_worked_example(sharpen):
    import torch
    p = torch.tensor([[0.6, 0.3, 0.1], [0.2, 0.2, 0.6]])
    expected = torch.tensor([[0.36, 0.09, 0.01], [0.04, 0.04, 0.36]])
    expected = expected / expected.sum(1, keepdim=True)
    assert torch.allclose(sharpen(p, 0.5), expected, atol=1e-06), f'expected {expected.tolist()}, got {sharpen(p, 0.5).tolist()} (normalise each row over its classes)'
    assert torch.allclose(sharpen(p, 1.0), p, atol=1e-06), 'T = 1 changes nothing'

@test_case(points=1, hidden=False)
def test_input_unchanged(sharpen):
    import torch
    p = torch.tensor([[0.6, 0.3, 0.1], [0.25, 0.25, 0.5]])
    before = p.clone()
    out = sharpen(p, 0.5)
    assert torch.is_tensor(out) and torch.allclose(out.sum(1), torch.ones(2), atol=1e-06), 'sharpen returns the sharpened distributions'
    assert torch.equal(p, before), 'sharpen changed its input p in place: compute a new tensor (p ** (1 / T), not p.pow_)'

