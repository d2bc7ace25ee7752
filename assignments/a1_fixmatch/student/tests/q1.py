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
    assert torch.allclose(confidence, torch.tensor([0.96466, 1 / 3, 0.88349]), atol=0.0001), confidence

