from otter.test_files import test_case

OK_FORMAT = False

name = "q3"
points = None

@test_case(points=1, hidden=False)
def test_shape_and_no_gradient(guess_labels):
    import torch
    import torch.nn as nn
    torch.manual_seed(5)
    model = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3))
    q = guess_labels(model, [torch.randn(10, 6), torch.randn(10, 6)], 0.5)
    assert q.shape == (10, 3) and (not q.requires_grad), 'return the [N, classes] guesses, without gradient'
    assert torch.allclose(q.sum(1), torch.ones(10), atol=1e-05), 'each guess is a distribution (rows sum to 1)'

@test_case(points=1, hidden=False)
def test_batchnorm_statistics_untouched(guess_labels):
    import torch
    import torch.nn as nn
    torch.manual_seed(7)
    model = nn.Sequential(nn.Linear(6, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 4))
    model.train()
    model(torch.randn(64, 6) * 2 + 1)
    views = [torch.randn(12, 6) * 3 - 1, torch.randn(12, 6) * 3 - 1]
    before = {name: b.clone() for name, b in model.named_buffers()}
    q = guess_labels(model, views, 0.5)
    assert q.shape == (12, 4) and torch.allclose(q.sum(1), torch.ones(12), atol=1e-05), 'return the guessed distributions'
    for name, b in model.named_buffers():
        assert torch.equal(b, before[name]), f"guessing moved BatchNorm's {name}: save and restore the buffers (or freeze them, as chapter 4 does)"
    assert model.training, 'leave the model in train mode'

@test_case(points=1, hidden=False)
def test_matches_reference_in_train_mode(guess_labels):
    import torch
    import torch.nn as nn
    torch.manual_seed(7)
    model = nn.Sequential(nn.Linear(6, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 4))
    model.train()
    model(torch.randn(64, 6) * 2 + 1)
    views = [torch.randn(12, 6) * 3 - 1, torch.randn(12, 6) * 3 - 1]
    from ssl_teach.methods.mixmatch import guess_labels as reference
    expected = reference(model, views, 0.5)
    q = guess_labels(model, views, 0.5)
    assert torch.allclose(q, expected, atol=1e-05), 'the guesses differ from the reference: in train mode, put all K views through the model in one pass (BatchNorm normalises them with their own batch statistics); model.eval() would use the running averages'

