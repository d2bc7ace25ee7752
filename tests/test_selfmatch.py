"""SimCLR pre-training as a method, SelfMatch's start from its encoder, and how both are stored."""

import warnings

import pytest
import torch
from conftest import synthetic_dataset
from helpers import CountingCNN, random_batch

from ssl_teach.augment import for_dataset
from ssl_teach.contrastive import encoder_state, nt_xent_loss
from ssl_teach.experiments import METHODS, Run, protocol_data, result
from ssl_teach.methods import FixMatch, SelfMatch, SimCLR
from ssl_teach.models import LeNet
from ssl_teach.pretraining import PRETRAIN_N_PER_CLASS, encoder_path, load_encoder, pretraining_run
from ssl_teach.store import Store
from ssl_teach.train import fit

# --------------------------------------------------------------------------- SimCLR


def test_simclr_forwards_both_views_of_every_unlabeled_image_in_one_pass():
    model = CountingCNN()
    method = SimCLR(model, projection_dim=8)
    batch = random_batch(b=2, mu=3)  # 6 unlabeled images -> 12 views
    loss, logs = method.loss(batch, 0)
    assert model.calls == [12]
    assert loss.item() == pytest.approx(logs["loss_contrastive"])
    assert 0.0 <= logs["positive_top1"] <= 1.0


def test_simclr_loss_is_nt_xent_of_its_two_views():
    model = LeNet()
    method = SimCLR(model, temperature=0.2, projection_dim=8)
    batch = random_batch(b=2, mu=2)
    torch.manual_seed(3)
    loss, _ = method.loss(batch, 0)
    torch.manual_seed(3)  # the same two views, by hand
    v1, v2 = method.views(batch.x_unlabeled), method.views(batch.x_unlabeled)
    z1, z2 = method.model.project(torch.cat([v1, v2])).chunk(2)
    assert loss.item() == pytest.approx(nt_xent_loss(z1, z2, 0.2).item(), rel=1e-5)


def test_simclr_loss_reads_no_label():
    method = SimCLR(LeNet(), projection_dim=8)
    batch = random_batch(b=2, mu=2)
    torch.manual_seed(0)
    loss, _ = method.loss(batch, 0)
    batch.y_labeled = (batch.y_labeled + 1) % 10
    batch.unlabeled_true_labels = (batch.unlabeled_true_labels + 3) % 10
    batch.x_labeled = torch.rand_like(batch.x_labeled)
    torch.manual_seed(0)
    again, _ = SimCLR.loss(method, batch, 0)
    assert loss.item() == pytest.approx(again.item(), rel=1e-6)


def test_simclr_refuses_a_batch_without_negatives():
    batch = random_batch(b=1, mu=1)
    with pytest.raises(ValueError, match="at least 2 unlabeled images per step .*, got 1"):
        SimCLR(LeNet()).loss(batch, 0)


@pytest.mark.parametrize(("option", "value", "message"), [
    ("temperature", 0.0, "temperature must be a finite number > 0"),
    ("projection_dim", 0, "projection_dim must be an int >= 1"),
    ("min_scale", 1.5, "min_scale must be a number in"),
    ("hflip", 1, "hflip must be True or False"),
])
def test_simclr_bad_settings_name_the_argument(option, value, message):
    with pytest.raises(ValueError, match=message):
        SimCLR(LeNet(), **{option: value})
    with pytest.raises(ValueError, match=message):  # and through the protocol, at once
        Run("simclr", "mnist", options={option: value})


def test_pretraining_is_the_same_whatever_the_labeled_set():
    """The store files one pre-training run per seed for every label budget: its encoder must not
    depend on the labeled images (only the evaluation readout reads them)."""
    dataset = synthetic_dataset(n_per_class=60)
    states = []
    for n_per_class in (1, 10):
        data = protocol_data(dataset, n_per_class, 0, "smoke", device="cpu")
        torch.manual_seed(0)  # the same initial weights
        method = SimCLR(LeNet(), projection_dim=8)
        fit(method, data, "smoke", steps=3, batch_size=4, mu=4, eval_every=3, progress=False, seed=0)
        states.append(method.encoder_state())
        # the readout's memory: distinct labeled images seen so far (all of them after K / batch steps)
        seen = method.probe_index.tolist()
        assert len(set(seen)) == len(seen) == len(method.probe_images) == min(12, len(data.labeled))
        assert set(method.probe_index.tolist()) <= set(data.labeled.tolist())
    assert states[0].keys() == states[1].keys()
    assert all(torch.equal(states[0][k], states[1][k]) for k in states[0])


def test_simclr_is_evaluated_by_a_nearest_class_mean_of_its_features_and_keeps_it_in_its_state():
    from ssl_teach.contrastive import NearestClassMean
    from ssl_teach.evaluation import evaluate_method
    dataset = synthetic_dataset(n_per_class=60)
    data = protocol_data(dataset, 2, 0, "smoke", device="cpu")
    torch.manual_seed(0)
    method = SimCLR(LeNet(), projection_dim=8)
    assert method.eval_model() is method.model.encoder  # no labeled image seen yet
    history = fit(method, data, "smoke", steps=2, batch_size=10, mu=2, eval_every=2, progress=False)
    assert 0.0 <= history.final_accuracy <= 1.0 and "loss_contrastive" in history.train
    assert isinstance(method.eval_model(), NearestClassMean)
    assert set(method.probe_index.tolist()) == set(data.labeled.tolist())  # 2 batches of 10: the 20 labeled images
    copy = SimCLR(LeNet(), projection_dim=8)
    copy.load_state_dict(method.state_dict())
    assert torch.equal(copy.probe_labels, method.probe_labels)
    assert evaluate_method(copy, data)["test_acc"] == pytest.approx(history.final_accuracy)


# --------------------------------------------------------------------------- SelfMatch


def _encoder(seed: int) -> dict:
    torch.manual_seed(seed)
    return encoder_state(LeNet())


def test_selfmatch_starts_from_the_encoder_and_keeps_its_new_classifier():
    torch.manual_seed(0)
    model = LeNet()
    method = SelfMatch(model, *for_dataset("mnist"))
    classifier = model.classifier.weight.detach().clone()
    encoder = _encoder(1)
    method.start_from(encoder, {"key": "abc", "steps": 5})
    state = model.state_dict()
    assert all(torch.equal(state[k], v) for k, v in encoder.items())
    assert torch.equal(model.classifier.weight, classifier)  # the classifier is not pre-trained
    ema = method.ema.model.state_dict()  # the EMA restarts from the loaded weights
    assert all(torch.equal(ema[k], state[k]) for k in state)
    assert method.encoder_source == {"key": "abc", "steps": 5}


def test_selfmatch_loss_is_fixmatchs_from_the_loaded_encoder():
    encoder = _encoder(1)
    torch.manual_seed(0)
    selfmatch = SelfMatch(LeNet(), *for_dataset("mnist"), threshold=0.0)
    selfmatch.start_from(encoder)
    torch.manual_seed(0)
    fixmatch = FixMatch(LeNet(), *for_dataset("mnist"), threshold=0.0)
    fixmatch.model.load_state_dict({**fixmatch.model.state_dict(), **encoder})
    batch = random_batch(b=2, mu=2)
    torch.manual_seed(5)
    loss, logs = selfmatch.loss(batch, 0)
    torch.manual_seed(5)
    expected, _ = fixmatch.loss(batch, 0)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5) and logs["pretrained"] == 1.0


def test_selfmatch_from_a_random_encoder_warns():
    method = SelfMatch(LeNet(), *for_dataset("mnist"))
    with pytest.warns(UserWarning, match="random encoder, which is FixMatch"):
        _, logs = method.loss(random_batch(b=2, mu=2), 0)
    assert logs["pretrained"] == 0.0
    method.start_from(_encoder(1))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        method.loss(random_batch(b=2, mu=2), 0)


def test_an_encoder_of_another_model_is_refused():
    method = SelfMatch(LeNet(), *for_dataset("mnist"))
    with pytest.raises(ValueError, match="the encoder does not fit this model: missing"):
        method.start_from(encoder_state(LeNet(c1=8)) | {"extra.weight": torch.zeros(1)})
    with pytest.raises(ValueError, match="encoder must be a non-empty state dict"):
        method.start_from({})


@pytest.mark.parametrize(("option", "value", "message"), [
    ("pretrain_steps", 0, "pretrain_steps must be an int >= 1"),
    ("pretrain_temperature", -1.0, "pretrain_temperature must be a finite number > 0"),
    ("pretrain_min_scale", 0.0, "pretrain_min_scale: min_scale"),
    ("pretrain_hflip", "no", "pretrain_hflip must be True or False"),
    ("pretrain_lr", 0.0, "pretrain_lr must be a finite number > 0"),
])
def test_selfmatch_bad_pretraining_settings_name_the_argument(option, value, message):
    with pytest.raises(ValueError, match=message):
        Run("selfmatch", "mnist", options={option: value})


# --------------------------------------------------------------------------- the store


def test_the_pretraining_run_is_named_by_the_selfmatch_run():
    from ssl_teach.protocol import PRETRAIN_LR

    run = Run("selfmatch", "mnist", 1, seed=2, profile="book",
              options={"pretrain_steps": 300, "pretrain_temperature": 0.2, "pretrain_hflip": True})
    pre = pretraining_run(run)
    assert (pre.method, pre.dataset, pre.n_per_class, pre.seed, pre.profile) == (
        "simclr", "mnist", PRETRAIN_N_PER_CLASS, 2, "book")
    assert pre.steps == 300 and pre.config()["fit_options"]["lr"] == PRETRAIN_LR  # the recipe's
    assert pretraining_run(Run("selfmatch", "mnist", 1, 2, "book", {**run.options, "pretrain_lr": 0.3})
                           ).config()["fit_options"]["lr"] == 0.3
    assert pre.config()["hyperparameters"] == {"temperature": 0.2, "projection_dim": 32, "min_scale": 0.3,
                                                "hflip": True}
    # one pre-training run serves every label budget; another setting is another run
    assert pretraining_run(Run("selfmatch", "mnist", 10, 2, "book", run.options)).config() == pre.config()
    other = pretraining_run(Run("selfmatch", "mnist", 1, 2, "book", {**run.options, "pretrain_steps": 301}))
    assert Store("/x").path(other.config()) != Store("/x").path(pre.config())
    # and the SelfMatch run's own key follows its pre-training settings
    assert Run("selfmatch", "mnist", 1, 2, "book", {**run.options, "pretrain_steps": 301}).config() != run.config()
    with pytest.raises(ValueError, match="only a SelfMatch run has a pre-training run"):
        pretraining_run(Run("fixmatch", "mnist"))
    assert METHODS["simclr"] is SimCLR and METHODS["selfmatch"] is SelfMatch


def test_a_selfmatch_run_trains_its_pretraining_once_and_names_it(tmp_path, monkeypatch):
    monkeypatch.delenv("SSL_TEACH_RETRAIN", raising=False)
    dataset = synthetic_dataset(n_per_class=60)
    store = Store(tmp_path)
    fit_options = {"steps": 2, "eval_every": 2, "batch_size": 4, "mu": 2}
    run = Run("selfmatch", "mnist", 2, seed=0, profile="book", options={"pretrain_steps": 2},
              fit_options=fit_options)
    record = result(run, store, progress=False, dataset=dataset)
    pre = pretraining_run(run)
    pre_record = store.load(pre.config(dataset))
    assert pre_record is not None and pre_record["method"] == "simclr[lr=1.0,steps=2]"  # the recipe's lr
    assert record["pretraining"]["key"] == pre_record["key"] and record["pretraining"]["steps"] == 2
    assert record["pretraining"]["seconds"] == pre_record["seconds"]
    assert store.load(run.config(dataset))["pretraining"] == record["pretraining"]  # on disk too
    saved = load_encoder(store, pre.config(dataset))
    assert encoder_path(store, pre.config(dataset)).name.endswith(".encoder.pth")
    assert saved["key"] == pre_record["key"] and not any(k.startswith("classifier.") for k in saved["encoder"])

    # a second budget reuses the stored encoder: nothing is pre-trained again
    import ssl_teach.experiments as experiments
    trained = []
    real_fit = experiments.fit

    def counting_fit(method, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        trained.append(method.name)
        return real_fit(method, *args, **kwargs)
    monkeypatch.setattr(experiments, "fit", counting_fit)
    result(Run("selfmatch", "mnist", 1, 0, "book", run.options, fit_options), store, progress=False, dataset=dataset)
    assert trained == ["selfmatch"]


@pytest.mark.parametrize("profile", ["smoke", "cpu", "book", "scale_up"])
def test_a_protocol_selfmatch_run_costs_the_steps_of_one_fixmatch_run(profile):
    from ssl_teach.config import get_profile
    from ssl_teach.protocol import PRETRAIN_SHARE

    run = Run("selfmatch", "mnist", 4, seed=1, profile=profile)
    total = get_profile(profile).steps
    assert run.label == "selfmatch"  # the protocol's SelfMatch, not a variant
    assert run.steps + pretraining_run(run).steps == total == Run("fixmatch", "mnist", 4, 1, profile).steps
    assert pretraining_run(run).steps == round(total * PRETRAIN_SHARE)


def test_the_chapters_selfmatch_runs_split_one_budget_between_the_stages():
    from ssl_teach import selfmatch_runs as sr
    from ssl_teach.config import get_profile

    total = get_profile("book").steps
    plain = Run("selfmatch", sr.DATASET, 4, 0, "book")
    for share in sr.SWEEP_SHARES:
        run = sr.equal_compute_run(4, 0, "book", share)
        assert run.steps + pretraining_run(run).steps == total
    assert sr.equal_compute_run(4, 0, "book", 1 / 3) == plain  # the protocol's share is the plain run
    assert sr.equal_compute_run(4, 0, "book", 1 / 9).steps == total - 300
    plain = Run("selfmatch", sr.DATASET, sr.SWEEP_BUDGET, 0, "book")
    for bad in (0, 1, 1.5, "half"):
        with pytest.raises(ValueError, match="share must be"):
            sr.equal_compute_run(4, 0, "book", bad)
    runs = sr.selfmatch_runs("book")
    assert len(runs) == len(set(runs)) and plain in runs
    assert {r.n_per_class for r in runs if r.method == "selfmatch"} == set(sr.BUDGETS)
    extra = [r for r in runs if r.seed in sr.EXTRA_SEEDS]
    assert {(r.method, r.n_per_class) for r in extra} == {(m, sr.EXTRA_BUDGET) for m in ("supervised", "fixmatch",
                                                                                         "selfmatch")}
    assert not any(r.seed in sr.EXTRA_SEEDS for r in sr.selfmatch_runs("smoke"))
