from otter.test_files import test_case

OK_FORMAT = False

name = "q3"
points = None

@test_case(points=1, hidden=False)
def test_one_forward_pass(fixmatch_loss):
    import torch
    import torch.nn as nn
    from ssl_teach.methods.base import Batch
    torch.manual_seed(11)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 12), nn.BatchNorm1d(12), nn.ReLU(), nn.Linear(12, 3))
    with torch.no_grad():
        model[-1].weight.mul_(6)

    def weak(x):
        return x.flip(-1)

    def strong(x):
        return (1 - x).roll(1, dims=-2)
    n, m = (6, 12)
    batch = Batch(x_labeled=torch.rand(n, 1, 4, 4), y_labeled=torch.randint(3, (n,)), x_unlabeled=torch.rand(m, 1, 4, 4), unlabeled_index=torch.arange(m), unlabeled_true_labels=torch.randint(3, (m,)), labeled_index=torch.arange(n))
    calls = []
    model.register_forward_hook(lambda module, inputs, output: calls.append(len(inputs[0])))
    fixmatch_loss(model, weak, strong, batch, 0.6, 1.0)
    assert len(calls) == 1, f'the model was called {len(calls)} times (batch sizes {calls}): put the labeled, weak and strong images through it in ONE call on torch.cat([...])'
    assert calls == [n + 2 * m], f'the one forward pass should hold {n} labeled + {m} weak + {m} strong images, got {calls[0]}'

@test_case(points=1, hidden=False)
def test_matches_reference(fixmatch_loss):
    import torch
    import torch.nn as nn
    from ssl_teach.methods.base import Batch
    torch.manual_seed(11)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 12), nn.BatchNorm1d(12), nn.ReLU(), nn.Linear(12, 3))
    with torch.no_grad():
        model[-1].weight.mul_(6)

    def weak(x):
        return x.flip(-1)

    def strong(x):
        return (1 - x).roll(1, dims=-2)
    n, m = (6, 12)
    batch = Batch(x_labeled=torch.rand(n, 1, 4, 4), y_labeled=torch.randint(3, (n,)), x_unlabeled=torch.rand(m, 1, 4, 4), unlabeled_index=torch.arange(m), unlabeled_true_labels=torch.randint(3, (m,)), labeled_index=torch.arange(n))
    from ssl_teach.methods import FixMatch
    for threshold, lambda_u in ((0.6, 0.5), (0.9, 2.0)):
        loss, logs = fixmatch_loss(model, weak, strong, batch, threshold, lambda_u)
        expected, ref_logs = FixMatch(model, weak, strong, threshold=threshold, lambda_u=lambda_u, ema_decay=None).loss(batch, 0)
        assert torch.is_tensor(loss) and loss.dim() == 0, 'the loss must be a scalar tensor'
        assert torch.allclose(loss, expected, atol=1e-05), f'threshold {threshold}, lambda_u {lambda_u}: expected {expected.item():.4f}, got {loss.item():.4f}. Labeled term: CE of the labeled logits; unlabeled term: pseudo-labels from the WEAK view, cross-entropy of the STRONG view, times lambda_u'
        assert abs(float(logs['mask_rate']) - ref_logs['mask_rate']) < 1e-06, "logs['mask_rate'] is the share of confident unlabeled images"

