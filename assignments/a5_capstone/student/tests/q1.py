from otter.test_files import test_case

OK_FORMAT = False

name = "q1"
points = None

@test_case(points=1, hidden=False)
def test_make_method(make_method):
    import torch
    from ssl_teach.methods.base import Method
    from ssl_teach.models import build_model
    assert callable(make_method), 'make_method must be a function that builds a new method'
    first, second = (make_method(), make_method())
    assert isinstance(first, Method), f'make_method() must return an ssl_teach Method (a subclass with a loss), got {type(first).__name__}'
    assert first is not second and (not {id(p) for p in first.model.parameters()} & {id(p) for p in second.model.parameters()}), 'make_method() must build a NEW method with a new model each time it is called (the grader trains its own)'
    size = sum([p.numel() for p in first.model.parameters()])
    allowed = sum([p.numel() for p in build_model('mnist', 'book').parameters()])
    assert size <= allowed, f"the model has {size:,} parameters, more than build_model('mnist', 'book')'s {allowed:,}"
    model = first.eval_model()
    model.eval()
    with torch.no_grad():
        logits = model(torch.rand(5, 1, 28, 28))
    assert tuple(logits.shape) == (5, 10), f'the evaluated model must map [N, 1, 28, 28] to logits [N, 10], got {tuple(logits.shape)}'

