from otter.test_files import test_case

OK_FORMAT = False

name = "q4"
points = None

@test_case(points=1, hidden=False)
def test_uniform_mean_changes_nothing(distribution_alignment, p_w):
    import torch
    assert torch.allclose(distribution_alignment(p_w, torch.full((4,), 0.25)), p_w, atol=1e-06)

@test_case(points=1, hidden=False)
def test_worked_example(distribution_alignment):
    import torch
    p = torch.tensor([[0.6, 0.3, 0.1]])
    out = distribution_alignment(p, torch.tensor([0.6, 0.2, 0.2]))
    expected = torch.tensor([[1.0, 1.5, 0.5]]) / 3.0
    assert torch.allclose(out, expected, atol=1e-06), f'expected p / mean, renormalised = {expected.tolist()}, got {out.tolist()}: divide (do not multiply) by the mean prediction'

@test_case(points=1, hidden=False)
def test_input_unchanged(distribution_alignment):
    import torch
    p = torch.tensor([[0.6, 0.3, 0.1], [0.2, 0.5, 0.3]])
    before = p.clone()
    out = distribution_alignment(p, torch.tensor([0.5, 0.3, 0.2]))
    assert torch.is_tensor(out) and torch.allclose(out.sum(1), torch.ones(2), atol=1e-06), 'return the aligned distributions'
    assert torch.equal(p, before), 'distribution_alignment changed p in place (p /= ...): return a new tensor'

