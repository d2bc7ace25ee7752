import random

import numpy as np
import pytest
import torch

from ssl_teach.config import PROFILES, get_device, get_profile, set_seed


def test_profiles_by_name_and_environment(monkeypatch):
    assert get_profile("smoke").name == "smoke"
    assert get_profile(" CPU ").name == "cpu"
    monkeypatch.setenv("SSL_TEACH_PROFILE", "smoke")
    assert get_profile() is PROFILES["smoke"]


def test_default_profile_follows_cuda(monkeypatch):
    monkeypatch.delenv("SSL_TEACH_PROFILE", raising=False)
    expected = "gpu" if torch.cuda.is_available() else "cpu"
    assert get_profile().name == expected


def test_profiles_grow_with_the_budget():
    smoke, cpu, gpu = (PROFILES[n] for n in ("smoke", "cpu", "gpu"))
    assert smoke.steps < cpu.steps < gpu.steps
    assert smoke.ablation_steps <= smoke.steps and cpu.ablation_steps <= cpu.steps


def test_unknown_profile_names_the_value_and_the_choices(monkeypatch):
    with pytest.raises(ValueError, match=r"'fast'.*smoke, cpu, gpu"):
        get_profile("fast")
    monkeypatch.setenv("SSL_TEACH_PROFILE", "tpu")
    with pytest.raises(ValueError, match="SSL_TEACH_PROFILE"):
        get_profile()


def test_with_changes_one_field():
    short = PROFILES["cpu"].with_(steps=7)
    assert short.steps == 7 and short.batch_size == PROFILES["cpu"].batch_size


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
