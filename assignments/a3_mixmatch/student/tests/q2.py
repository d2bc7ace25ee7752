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

@test_case(points=1, hidden=False)
def test_inputs_and_targets_mixed_alike(mixup):
    import torch
    torch.manual_seed(4)
    n = 64
    x, y = (torch.randn(n, 3, 2, 2), torch.eye(n))
    x_mixed, y_mixed, lam = mixup(x, y, 0.75)
    lam = torch.as_tensor(lam, dtype=torch.float32).flatten().expand(n)
    for i in range(n):
        others = y_mixed[i].clone()
        others[i] = 0
        j = int(others.argmax()) if others.max() > 1e-06 else i
        weight = y_mixed[i, i] if j != i else lam[i]
        assert torch.allclose(weight, lam[i], atol=1e-05), f"row {i}: its target keeps {weight.item():.3f} of its own label, but lam is {lam[i].item():.3f}: mix the targets with the lambda' you return"
        assert torch.allclose(x_mixed[i], lam[i] * x[i] + (1 - lam[i]) * x[j], atol=1e-05), f"row {i}: the input is not mixed like its target: inputs and targets need the same lambda' and the same partner perm[i]"

