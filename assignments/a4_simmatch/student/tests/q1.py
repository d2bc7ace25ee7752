from otter.test_files import test_case

OK_FORMAT = False

name = "q1"
points = None

@test_case(points=1, hidden=False)
def test_worked_example(unfold, q_w, p_w, bank_labels):
    import torch
    q_hat = unfold(q_w, p_w, bank_labels)
    assert q_hat.shape == (1, 8)
    expected = torch.tensor([[0.26, 0.0, 0.0, 0.01, 0.4, 0.33, 0.0, 0.0]])
    assert torch.allclose(q_hat, expected, atol=0.006), q_hat

