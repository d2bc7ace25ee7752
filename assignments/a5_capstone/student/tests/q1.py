from otter.test_files import test_case

OK_FORMAT = False

name = "q1"
points = None

@test_case(points=1, hidden=False)
def test_model_and_budget(final_model, history, BUDGET):
    import torch
    assert isinstance(final_model, torch.nn.Module), 'final_model must be a torch.nn.Module'
    final_model.eval()
    with torch.no_grad():
        logits = final_model(torch.rand(5, 1, 28, 28))
    assert logits.shape == (5, 10), f'final_model must return logits [N, 10], got {tuple(logits.shape)}'
    assert history is not None and int(history.eval['step'][-1]) <= BUDGET['steps'], 'train within the budget'

