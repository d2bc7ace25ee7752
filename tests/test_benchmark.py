import torch
from PIL import Image

from ssl_teach.benchmark import reference_transforms, report


def test_report_takes_the_ratio_against_the_fastest_reference():
    rows = [
        ("weak augmentation", "ssl_teach, batched", 1000.0),
        ("weak augmentation", "DataLoader, per image, 0 workers", 100.0),
        ("weak augmentation", "DataLoader, per image, 2 workers", 250.0),
    ]
    text = report(rows)
    assert "ssl_teach / best per-image reference:   4.0x" in text
    assert "1,000" in text


def test_reference_transforms_make_the_same_kind_of_view():
    weak, strong = reference_transforms()
    picture = Image.fromarray(torch.randint(0, 256, (28, 28), dtype=torch.uint8).numpy(), mode="L")
    for view in (weak(picture), strong(picture)):
        assert view.shape == (1, 28, 28) and 0 <= view.min() and view.max() <= 1


def test_training_flops_counts_convolutions_and_linear_layers_by_hand():
    from ssl_teach.benchmark import estimated_t4_seconds, training_flops

    model = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.Flatten(), torch.nn.Linear(4 * 8 * 8, 10))
    # forward multiply-adds: conv 8*8 positions x 4 channels x (1*3*3), linear 256*10; x2 FLOPs, x3 for training
    expected = 3 * 2 * (8 * 8 * 4 * 9 + 256 * 10)
    assert training_flops(model, (1, 8, 8)) == expected
    assert estimated_t4_seconds(model, (1, 8, 8), images_per_step=10, steps=2) > 0
