from otter.test_files import test_case

OK_FORMAT = False

name = "q1"
points = None

@test_case(points=1, hidden=False)
def test_worked_example(make_pseudo_labels):
    import torch
    logits = torch.tensor([[4.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 3.0, 0.5]])
    targets, mask, confidence = make_pseudo_labels(logits, 0.8)
    assert targets.tolist() == [0, 0, 1], f'targets should be the argmax [0, 0, 1], got {targets.tolist()}'
    assert torch.as_tensor(mask).bool().tolist() == [True, False, True], 'mask should be [True, False, True]'
    assert torch.allclose(confidence, torch.tensor([0.96466, 1 / 3, 0.88349]), atol=0.0001), f'confidence is the largest softmax probability: expected [0.9647, 0.3333, 0.8835], got {confidence.tolist()}'

@test_case(points=1, hidden=False)
def test_no_gradient_into_the_pseudo_label(make_pseudo_labels):
    import torch
    logits = torch.randn(8, 5, generator=torch.Generator().manual_seed(2), requires_grad=True)
    for name, output in zip(('targets', 'mask', 'confidence'), make_pseudo_labels(logits, 0.2)):
        assert not torch.as_tensor(output).requires_grad, f'{name} carries a gradient: compute the pseudo-label under torch.no_grad() (or detach the logits)'

