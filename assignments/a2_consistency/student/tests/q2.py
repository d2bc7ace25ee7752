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

