from otter.test_files import test_case

OK_FORMAT = False

name = "q1"
points = None

@test_case(points=1, hidden=False)
def test_step_zero_copies_the_student(ema_update):
    import torch
    import torch.nn as nn
    torch.manual_seed(0)
    teacher, student = (nn.Linear(4, 3), nn.Linear(4, 3))
    a = ema_update(teacher, student, 0.99, 0)
    assert a == 0.0, f'at step 0, a = min(1 - 1/1, decay) = 0, got {a}'
    for t, s in zip(teacher.parameters(), student.parameters()):
        assert torch.allclose(t, s), 'at step 0 the teacher must equal the student'

