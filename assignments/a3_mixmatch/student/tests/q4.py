from otter.test_files import test_case

OK_FORMAT = False

name = "q4"
points = None

@test_case(points=1, hidden=False)
def test_equals_sharpened_softmax(sharpen_logits):
    import torch
    from ssl_teach.methods.mixmatch import sharpen
    logits = torch.tensor([[2.0, 1.0, 0.0], [0.0, 0.5, -1.0]])
    for T in (0.5, 2.0):
        expected = sharpen(logits.softmax(1), T)
        assert torch.allclose(sharpen_logits(logits, T), expected, atol=1e-06), f'T={T}: expected softmax(logits / T) = {expected.tolist()}, got {sharpen_logits(logits, T).tolist()}'

