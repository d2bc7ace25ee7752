from otter.test_files import test_case

OK_FORMAT = False

name = "q3"
points = None

@test_case(points=1, hidden=False)
def test_worked_example(calibrated_prediction, p_w, q_w, bank_labels):
    import torch
    p_hat = calibrated_prediction(p_w, q_w, bank_labels, 0.9)
    assert torch.allclose(p_hat, torch.tensor([[0.795, 0.019, 0.091, 0.086]]), atol=1e-05), p_hat

