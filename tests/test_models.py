import pytest
import torch

from ssl_teach.models import SmallCNN, WideResNet, build_model, count_parameters, predict_logits


def test_small_cnn_shapes_on_mnist_sized_input():
    model = build_model("mnist")
    logits, features = model(torch.rand(5, 1, 28, 28), return_features=True)
    assert logits.shape == (5, 10) and features.shape == (5, model.feature_dim)
    assert model(torch.rand(2, 1, 28, 28)).shape == (2, 10)
    assert 200_000 < count_parameters(model) < 400_000


def test_wide_resnet_28_2_shapes_on_cifar_sized_input():
    model = build_model("cifar10")
    assert isinstance(model, WideResNet)
    logits, features = model(torch.rand(2, 3, 32, 32), return_features=True)
    assert logits.shape == (2, 10) and features.shape == (2, 128)
    assert 1_400_000 < count_parameters(model) < 1_550_000  # WRN-28-2: 1.47 M


def test_wrong_input_shape_names_what_is_expected():
    with pytest.raises(ValueError, match=r"SmallCNN expects input of shape \[B, 1, H, W\], got \(2, 3, 28, 28\)"):
        SmallCNN()(torch.rand(2, 3, 28, 28))
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
