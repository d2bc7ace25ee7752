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
        assert torch.allclose(t, s), "at step 0 the teacher must equal the student: theta' <- a theta' + (1 - a) theta with a = 0"

@test_case(points=1, hidden=False)
def test_buffers_are_copied(ema_update):
    import copy
    import torch
    import torch.nn as nn
    torch.manual_seed(1)
    student = nn.Sequential(nn.Linear(6, 5), nn.BatchNorm1d(5), nn.Linear(5, 3))
    teacher = copy.deepcopy(student)
    for _ in range(3):
        student(torch.randn(32, 6) * 3 + 1)
    a = ema_update(teacher, student, 0.99, 5)
    assert abs(a - 5 / 6) < 1e-12, f'at step 5, a = min(1 - 1/6, 0.99) = 5/6, got {a}'
    for (name, t), s in zip(teacher.named_buffers(), student.buffers()):
        assert torch.equal(t, s), f"the teacher's {name} must be a copy of the student's (as ssl_teach.ema.EMA.update does), not an average and not left alone"

