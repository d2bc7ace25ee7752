import pytest
import torch

from ssl_teach.config import get_profile
from ssl_teach.models import LeNet, SmallCNN, WideResNet, build_model, count_parameters, predict_logits


@pytest.mark.parametrize("profile, cls, low, high", [("smoke", LeNet, 100_000, 130_000),
                                                     ("cpu", LeNet, 100_000, 130_000),
                                                     ("gpu", SmallCNN, 200_000, 400_000)])
def test_each_profile_gets_its_model_with_mnist_shapes(profile, cls, low, high):
    for dataset in ("mnist", "fashion_mnist"):
        model = build_model(dataset, profile)
        assert type(model) is cls
        logits, features = model(torch.rand(5, 1, 28, 28), return_features=True)
        assert logits.shape == (5, 10) and features.shape == (5, model.feature_dim)
        assert model(torch.rand(2, 1, 28, 28)).shape == (2, 10)
        assert low < count_parameters(model) < high
    assert type(build_model("mnist", get_profile("gpu"))) is SmallCNN  # a Profile works too


def test_build_model_rejects_unknown_names():
    with pytest.raises(ValueError, match="unknown dataset 'svhn'; allowed: mnist, mnist_full, fashion_mnist, cifar10"):
        build_model("svhn")
    with pytest.raises(ValueError, match="unknown profile 'laptop'"):
        build_model("mnist", "laptop")


@pytest.mark.parametrize("model", [LeNet(), SmallCNN()])
def test_uint8_images_get_a_clear_error_naming_the_fix(model):
    images = torch.randint(0, 256, (2, 1, 28, 28), dtype=torch.uint8)
    with pytest.raises(TypeError, match=r"got uint8 images .*to_float\(images\).*predict_logits"):
        model(images)
    assert predict_logits(model, images).shape == (2, 10)  # the function that accepts uint8


def test_wide_resnet_28_2_shapes_on_cifar_sized_input():
    model = build_model("cifar10")
    assert isinstance(model, WideResNet)
    logits, features = model(torch.rand(2, 3, 32, 32), return_features=True)
    assert logits.shape == (2, 10) and features.shape == (2, 128)
    assert 1_400_000 < count_parameters(model) < 1_550_000  # WRN-28-2: 1.47 M


def test_wrong_input_shape_names_what_is_expected():
    with pytest.raises(ValueError, match=r"SmallCNN expects input of shape \[B, 1, H, W\], got \(2, 3, 28, 28\)"):
        SmallCNN()(torch.rand(2, 3, 28, 28))
    with pytest.raises(ValueError, match=r"LeNet expects input of shape \[B, 1, 28, 28\], got \(2, 1, 32, 32\)"):
        LeNet()(torch.rand(2, 1, 32, 32))
    with pytest.raises(ValueError, match="WideResNet expects"):
        WideResNet()(torch.rand(2, 1, 32, 32))


def test_predict_logits_accepts_uint8_and_restores_train_mode():
    model = SmallCNN()
    model.train()
    images = torch.randint(0, 256, (7, 1, 28, 28), dtype=torch.uint8)
    out = predict_logits(model, images, batch_size=3)
    assert out.shape == (7, 10) and model.training
    model.eval()
    assert torch.allclose(out, model(images.float() / 255), atol=1e-5)
