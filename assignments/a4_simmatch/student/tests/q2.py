from otter.test_files import test_case

OK_FORMAT = False

name = "q2"
points = None

@test_case(points=1, hidden=False)
def test_worked_example(aggregate, q_w, bank_labels):
    import torch
    assert torch.allclose(aggregate(q_w, bank_labels, 4), torch.tensor([[0.75, 0.1, 0.01, 0.05]]), atol=1e-06)

