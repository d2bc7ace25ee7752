from otter.test_files import test_case

OK_FORMAT = False

name = "q5"
points = None

@test_case(points=1, hidden=False)
def test_uniform_target_and_example(align_to):
    import torch
    p = torch.tensor([[0.6, 0.3, 0.1]])
    mean = torch.tensor([0.5, 0.25, 0.25])
    uniform = align_to(p, mean, torch.full((3,), 1 / 3))
    assert torch.allclose(uniform, torch.tensor([[3 / 7, 3 / 7, 1 / 7]]), atol=1e-06), f'a uniform target gives distribution_alignment, [3/7, 3/7, 1/7]; got {uniform.tolist()}'
    out = align_to(p, mean, torch.tensor([0.2, 0.3, 0.5]))
    expected = torch.tensor([[0.3, 0.45, 0.25]])
    assert torch.allclose(out, expected, atol=1e-06), f'expected p * target / mean, renormalised = {expected.tolist()}, got {out.tolist()}'

