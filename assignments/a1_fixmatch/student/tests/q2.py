from otter.test_files import test_case

OK_FORMAT = False

name = "q2"
points = None

@test_case(points=1, hidden=False)
def test_worked_example(fixmatch_unlabeled_loss):
    import torch
    import torch.nn.functional as F
    weak = torch.tensor([[4.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 3.0, 0.5]])
    strong = torch.tensor([[1.0, 2.0, 0.0], [0.5, 0.0, 0.0], [0.0, 1.0, 1.0]])
    loss, mask = fixmatch_unlabeled_loss(weak, strong, 0.8)
    expected = (F.cross_entropy(strong[:1], torch.tensor([0])) + F.cross_entropy(strong[2:], torch.tensor([1]))) / 3
    assert loss.dim() == 0, 'the loss must be a scalar'
    assert torch.as_tensor(mask).bool().tolist() == [True, False, True]
    assert torch.allclose(loss, expected, atol=1e-06), f'expected {expected.item():.4f} (the cross-entropy of the strong view summed over the 2 confident images, divided by all 3), got {loss.item():.4f}'

