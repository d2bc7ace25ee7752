from otter.test_files import test_case

OK_FORMAT = False

name = "q2"
points = None

@test_case(points=1, hidden=False)
def test_scalar_and_zero_for_identical_predictions(consistency_loss):
    import torch
    import torch.nn as nn
    torch.manual_seed(3)
    model = nn.Linear(5, 4)
    x = torch.randn(8, 5)
    loss = consistency_loss(model, model, x, x)
    assert torch.is_tensor(loss) and loss.dim() == 0, 'return a scalar tensor'
    assert abs(loss.item()) < 1e-07, 'the same model on the same view agrees with itself'

@test_case(points=1, hidden=False)
def test_worked_example(consistency_loss):
    import torch
    import torch.nn as nn
    torch.manual_seed(4)
    student, teacher = (nn.Linear(5, 4), nn.Linear(5, 4))
    v1, v2 = (torch.randn(16, 5), 2 * torch.randn(16, 5))
    with torch.no_grad():
        expected = ((student(v1).softmax(1) - teacher(v2).softmax(1)) ** 2).mean()
    loss = consistency_loss(student, teacher, v1, v2)
    assert torch.allclose(loss, expected, atol=1e-06), f"expected {expected.item():.6f}, got {loss.item():.6f}: compare softmax probabilities (not logits) of the student on view_1 with the teacher's on view_2, and average over the batch AND the classes"

