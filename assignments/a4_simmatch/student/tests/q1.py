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
    assert torch.allclose(q_hat, expected, atol=0.006), f"expected about {expected.tolist()}, got {q_hat.tolist()} (scale q_w by p_w of each item's label, then renormalise)"

@test_case(points=1, hidden=False)
def test_each_row_its_own_prediction(unfold, q_w, p_w, bank_labels):
    import torch
    q = torch.cat([q_w, q_w])
    p = torch.cat([p_w, torch.tensor([[0.01, 0.8, 0.09, 0.1]])])
    q_hat = unfold(q, p, bank_labels)
    assert q_hat.shape == (2, 8), 'one unfolded row per image'
    assert torch.allclose(q_hat[1].sum(), torch.tensor(1.0), atol=1e-05)
    assert q_hat[1, 1] > 0.3 and q_hat[1, 0] < 0.05, f'row 1 predicts class 1, so its bank items of class 1 should gain; got {q_hat[1].tolist()}: index p_w[:, bank_labels], not one row for all'

