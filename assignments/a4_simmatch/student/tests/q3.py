from otter.test_files import test_case

OK_FORMAT = False

name = "q3"
points = None

@test_case(points=1, hidden=False)
def test_worked_example(calibrated_prediction, p_w, q_w, bank_labels):
    import torch
    p_hat = calibrated_prediction(p_w, q_w, bank_labels, 0.9)
    assert torch.allclose(p_hat, torch.tensor([[0.795, 0.019, 0.091, 0.086]]), atol=1e-05), f'expected [0.795, 0.019, 0.091, 0.086], got {p_hat.tolist()}: aggregate the raw similarity q_w'

@test_case(points=1, hidden=False)
def test_bank_without_the_last_class(calibrated_prediction):
    import torch
    p = torch.tensor([[0.5, 0.2, 0.1, 0.2]])
    q = torch.tensor([[0.5, 0.25, 0.25]])
    p_hat = calibrated_prediction(p, q, torch.tensor([0, 1, 1]), 0.5)
    assert p_hat.shape == (1, 4), f'p_hat needs all 4 classes of p_w (p_w.shape[1], not bank_labels.max() + 1), got shape {tuple(p_hat.shape)}'
    assert torch.allclose(p_hat, torch.tensor([[0.5, 0.35, 0.05, 0.1]]), atol=1e-06), p_hat

