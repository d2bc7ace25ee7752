from otter.test_files import test_case

OK_FORMAT = False

name = "q2"
points = None

@test_case(points=1, hidden=False)
def test_shapes_and_lambda_prime(mixup):
    import torch
    torch.manual_seed(0)
    x, y = (torch.rand(512, 1, 4, 4), torch.eye(8)[torch.randint(8, (512,))])
    x_mixed, y_mixed, lam = mixup(x, y, 0.75)
    assert x_mixed.shape == x.shape and y_mixed.shape == y.shape
    lam = torch.as_tensor(lam, dtype=torch.float32).flatten()
    assert (lam >= 0.5).all() and (lam <= 1).all(), "lambda' = max(lambda, 1 - lambda) lies in [0.5, 1]"

