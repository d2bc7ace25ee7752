from otter.test_files import test_case

OK_FORMAT = False

name = "q5"
points = None

@test_case(points=2, hidden=False)
def test_beats_the_floor(fixmatch_loss):
    import math
    import torch
    from ssl_teach.augment import for_dataset
    from ssl_teach.config import get_profile
    from ssl_teach.data import load_dataset
    from ssl_teach.methods import Supervised
    from ssl_teach.methods.base import Method
    from ssl_teach.models import build_model
    from ssl_teach.protocol import protocol_data
    from ssl_teach.train import fit

    class Graded(Method):
        name = 'graded_fixmatch'

        def __init__(self, model, weak, strong):
            super().__init__(model, 0.999)
            self.weak, self.strong = (weak, strong)

        def loss(self, batch, step):
            return fixmatch_loss(self.model, self.weak, self.strong, batch, 0.95, 1.0)
    smoke = get_profile().name == 'smoke'
    steps, batch_size, mu = (20, 16, 2) if smoke else (300, 32, 3)
    data = protocol_data(load_dataset('mnist'), 10, 0, 'book')
    weak, strong = for_dataset('mnist')
    accuracies = {}
    for name, make in (('floor', lambda: Supervised(build_model('mnist', 'book'), weak)), ('fixmatch', lambda: Graded(build_model('mnist', 'book'), weak, strong))):
        torch.manual_seed(0)
        history = fit(make(), data, 'book', steps=steps, batch_size=batch_size, mu=mu, eval_every=steps, seed=0, progress=False)
        accuracies[name] = history.final_accuracy
    floor, fixmatch = (accuracies['floor'], accuracies['fixmatch'])
    assert math.isfinite(fixmatch) and fixmatch > 0.15, f'your FixMatch reached {fixmatch:.3f}: it does not learn'
    if not smoke:
        assert fixmatch >= floor + 0.01, f'your FixMatch reached {fixmatch:.3f}, the floor {floor:.3f}: it should beat the floor by a point'

