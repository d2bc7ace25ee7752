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
