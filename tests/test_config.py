import random

import numpy as np
import pytest
import torch

from ssl_teach.config import PROFILES, get_device, get_profile, set_seed


def test_profiles_by_name_and_environment(monkeypatch):
    assert get_profile("smoke").name == "smoke"
    assert get_profile(" Book ").name == "book"
    assert get_profile("cpu") is PROFILES["book"] and get_profile("gpu") is PROFILES["scale_up"]  # earlier names
    monkeypatch.setenv("SSL_TEACH_PROFILE", "smoke")
    assert get_profile() is PROFILES["smoke"]


def test_the_default_profile_is_the_books_protocol_on_every_device(monkeypatch):
    monkeypatch.delenv("SSL_TEACH_PROFILE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # a Colab GPU shows the website's numbers
    assert get_profile().name == "book"


def test_profiles_grow_with_the_budget():
    smoke, book, scale_up = (PROFILES[n] for n in ("smoke", "book", "scale_up"))
    assert smoke.steps < book.steps < scale_up.steps
    assert smoke.ablation_steps <= smoke.steps and book.ablation_steps <= book.steps
    assert book.dataset("mnist") == "mnist" and scale_up.dataset("mnist") == "mnist_full"  # the opt-in's data


def test_unknown_profile_names_the_value_and_the_choices(monkeypatch):
    with pytest.raises(ValueError, match=r"'fast'.*smoke, book, scale_up"):
        get_profile("fast")
    monkeypatch.setenv("SSL_TEACH_PROFILE", "tpu")
    with pytest.raises(ValueError, match="SSL_TEACH_PROFILE"):
        get_profile()


def test_with_changes_one_field():
    short = PROFILES["book"].with_(steps=7)
    assert short.steps == 7 and short.batch_size == PROFILES["book"].batch_size


def test_set_seed_makes_every_generator_repeat():
    def draw():
        return random.random(), np.random.rand(), torch.rand(1).item()

    set_seed(3)
    first = draw()
    set_seed(3)
    assert draw() == first
    with pytest.raises(ValueError, match="seed"):
        set_seed(-1)


def test_device_choice():
    assert get_device("cpu") == torch.device("cpu")
    assert get_device().type in ("cpu", "cuda")
