from otter.test_files import test_case

OK_FORMAT = False

name = "q2"
points = None

@test_case(points=1, hidden=False)
def test_one_step(make_method):
    import math
    import torch
    from ssl_teach.train import fit
    from ssl_teach.protocol import protocol_data
    from ssl_teach.data import load_dataset
    import dataclasses
    split = protocol_data(load_dataset('mnist'), 4, 0, 'book')
    val = split.val[:50].to(split.device)
    small = dataclasses.replace(split, test_images=split.images[val], test_labels=split.labels[val])
    torch.manual_seed(0)
    history = fit(make_method(), small, 'book', steps=2, batch_size=64, mu=3, eval_every=2, seed=0, progress=False)
    assert all([math.isfinite(v) for v in history.train['loss']]), 'the loss must be finite'

