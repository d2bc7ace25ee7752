"""The protocol: splits per seed, floor and ceiling, 3-seed headlines, runs through the store."""

import dataclasses
import math

import pytest
import torch
from conftest import synthetic_dataset

from ssl_teach.config import get_profile
from ssl_teach.experiments import (
    VAL_PER_CLASS,
    Headline,
    Run,
    ceiling_run,
    floor_run,
    headline,
    protocol_data,
    result,
)
from ssl_teach.store import Store, shipped_root


def test_the_headline_is_computed_as_by_hand():
    # floor 90, 91, 89; method 95, 97, 93; ceiling 99: paired gains 5, 6, 4
    h = Headline([95.0, 97.0, 93.0], [90.0, 91.0, 89.0], ceiling=99.0)
    assert h.mean == pytest.approx(95.0) and h.std == pytest.approx(2.0)
    assert h.gain == pytest.approx(5.0) and h.gain_std == pytest.approx(1.0)
    assert h.share == pytest.approx(100 * 5 / 9)
    assert not h.tie and "above the floor" in str(h)
    tie = Headline([90.5, 91.0, 88.0], [90.0, 91.0, 89.0], ceiling=99.0)  # gains 0.5, 0, -1: noise
    assert tie.tie and "a tie" in str(tie)
    assert h.difference.mean == pytest.approx(5.0) and h.difference.low > 0  # the paired t interval
    assert h.share_interval([99.0, 99.0, 99.0]).estimate == pytest.approx(h.share)


def test_headline_pairs_records_by_seed_and_refuses_a_missing_floor():
    rec = lambda seed, acc: {"seed": seed, "test_acc": acc}  # noqa: E731
    h = headline([rec(1, 0.97), rec(0, 0.95)], [rec(0, 0.90), rec(1, 0.91)], [rec(0, 0.99)])
    assert h.floor_accs == pytest.approx([91.0, 90.0]) and h.gain == pytest.approx(5.5)
    with pytest.raises(ValueError, match=r"no floor run for seeds \[2\]"):
        headline([rec(2, 0.9)], [rec(0, 0.9)], [rec(0, 0.99)])
    assert math.isnan(Headline([95.0], [90.0], 99.0).gain_std)


def test_protocol_splits_keep_validation_apart_and_fixed_across_label_budgets():
    dataset = synthetic_dataset(n_per_class=80)
    for seed in (0, 1, 2):
        ten = protocol_data(dataset, 10, seed, "smoke", device="cpu")
        five = protocol_data(dataset, 5, seed, "smoke", device="cpu")
        ceiling = protocol_data(dataset, None, seed, "smoke", device="cpu")
        assert len(ten.val) == 10 * VAL_PER_CLASS and torch.equal(ten.val, five.val)
        assert set(five.labeled.tolist()) <= set(ten.labeled.tolist())
        assert not set(ten.val.tolist()) & (set(ten.labeled.tolist()) | set(ten.unlabeled.tolist()))
        # the ceiling labels every image outside the same validation split, so it too is judged on validation
        assert torch.equal(ceiling.val, ten.val) and len(ceiling.unlabeled) == 0
        assert len(ceiling.labeled) == len(dataset.train_labels) - len(ten.val)
        assert not set(ceiling.labeled.tolist()) & set(ceiling.val.tolist())


def test_a_variant_is_labelled_apart_from_the_protocol_run():
    assert Run("fixmatch", "mnist").label == "fixmatch"
    assert Run("fixmatch", "mnist", options={"threshold": 0.9}).label == "fixmatch[threshold=0.9]"
    assert Run("fixmatch", "mnist", fit_options={"lr": 0.06}).label == "fixmatch[lr=0.06]"
    assert Run("fixmatch", "mnist", options={"threshold": 0.9}).config()["method"] == "fixmatch"  # keyed apart
    assert ceiling_run("mnist", 0).label == "supervised"  # the ceiling's own budget is the protocol's
    default = Run("fixmatch", "mnist", options={"threshold": 0.95})  # the default, passed explicitly
    assert default.label == "fixmatch" and default.config() == Run("fixmatch", "mnist").config()
    assert Run("fixmatch", "mnist").config()["hyperparameters"]["threshold"] == 0.95
    assert Run("fixmatch", "mnist").config()["fit_options"]["steps"] == get_profile("cpu").steps


def test_runs_name_what_is_allowed():
    with pytest.raises(ValueError, match="unknown method 'fixmatc'; allowed: supervised, .*fixmatch, simmatch"):
        Run("fixmatc", "mnist")
    with pytest.raises(ValueError, match=r"seed must be an int >= 0, got 1.0"):
        Run("fixmatch", "mnist", seed=1.0)
    with pytest.raises(ValueError, match="n_per_class must be None"):
        Run("fixmatch", "mnist", 0)
    with pytest.raises(ValueError, match="fixmatch has no hyper-parameter tau; it has threshold"):
        Run("fixmatch", "mnist", options={"tau": 0.9})
    with pytest.raises(ValueError, match="unknown profile 'fast'"):
        Run("fixmatch", "mnist", profile="fast")
    assert ceiling_run("mnist", 0).n_per_class is None and floor_run("mnist", 2).seed == 2


def test_bad_input_is_refused_by_the_run_that_receives_it():
    with pytest.raises(ValueError, match=r"dataset must be one of mnist, mnist_full, .*, got 'mnis'"):
        Run("fixmatch", "mnis")
    with pytest.raises(ValueError, match=r"Run\('fixmatch'.*threshold must be a number in \[0, 1\], got 1.5"):
        Run("fixmatch", "mnist", options={"threshold": 1.5})
    with pytest.raises(ValueError, match=r"fit_options\['steps'\] must be an int >= 1, got -1"):
        Run("fixmatch", "mnist", fit_options={"steps": -1})
    with pytest.raises(ValueError, match=r"fit_options\['lr'\] must be a number > 0, got 'fast'"):
        Run("fixmatch", "mnist", fit_options={"lr": "fast"})
    with pytest.raises(ValueError, match=r"fit_options has no 'epochs'; allowed: steps, batch_size"):
        Run("fixmatch", "mnist", fit_options={"epochs": 3})
    with pytest.raises(ValueError, match=r"Run\('simmatch'.*a must be a number in \[0, 1\]"):
        Run("simmatch", "mnist", options={"a": 2.0})
    state = torch.random.get_rng_state()
    Run("simmatch", "fashion_mnist", options={"a": 1.0})  # checking builds the method, drawing no random number
    assert torch.equal(state, torch.random.get_rng_state())
    assert Run("fixmatch", "mnist", profile="cpu").profile == "book"  # the earlier name is the same run


def test_a_record_names_its_images_and_is_never_read_for_others(tmp_path, monkeypatch):
    dataset, store, quick, run = _quick_run(tmp_path, monkeypatch)
    sample, full = Run("supervised", "mnist"), Run("supervised", "mnist_full")
    assert sample.config()["data"] == "mnist:4000+1000:dc64dc5e3307e08d" and sample.config() != full.config()
    assert Run("supervised", "mnist", profile="scale_up").data == "mnist_full"  # the opt-in trains the full set
    book = Store(shipped_root())
    record = book.load(sample.config())
    assert record is not None and record["config"]["data"] == sample.config()["data"]  # the committed floor...
    assert book.load(full.config()) is None  # ...is not read for the full dataset
    monkeypatch.setenv("SSL_TEACH_RESULTS", str(tmp_path))
    assert experiments_stored(full) is None
    trained = result(run, store=store, dataset=dataset, progress=False)  # other images: a key of their own
    assert trained["config"]["data"].startswith("mnist:600+150:") and store.load(run.config()) is None


QUICK = {"steps": 4, "eval_every": 2, "batch_size": 8}


def _quick_run(tmp_path, monkeypatch):
    """A synthetic dataset, an empty store, 4-step fit options and a floor run to train with them."""
    monkeypatch.delenv("SSL_TEACH_RETRAIN", raising=False)
    return (synthetic_dataset(n_per_class=60), Store(tmp_path), QUICK,
            Run("supervised", "mnist", 2, seed=0, profile="cpu", fit_options=QUICK))


def experiments_stored(run):
    from ssl_teach.experiments import stored
    return stored(run)


def test_a_run_is_trained_once_then_read_from_the_store(tmp_path, monkeypatch):
    dataset, store, quick, run = _quick_run(tmp_path, monkeypatch)
    first = result(run, store=store, dataset=dataset, progress=False)
    again = result(run, store=store, dataset=dataset, progress=False)
    assert not first["from_store"] and again["from_store"]
    assert again["test_acc"] == first["test_acc"] and again["steps"] == 4 and again["n_per_class"] == 2
    assert len(store.records()) == 1
    forced = result(run, store=store, dataset=dataset, progress=False, force=True)
    assert not forced["from_store"] and forced["test_acc"] == first["test_acc"]  # same seed, same run
    monkeypatch.setenv("SSL_TEACH_RETRAIN", "1")
    assert not result(run, store=store, dataset=dataset, progress=False)["from_store"]
    monkeypatch.delenv("SSL_TEACH_RETRAIN")
    other = Run("supervised", "mnist", 2, seed=1, profile="cpu", fit_options=quick)
    result(other, store=store, dataset=dataset, progress=False)
    assert len(store.records()) == 2
    assert first["method"] == run.label  # the record is labelled with the run's settings
    smoke = Run("supervised", "mnist", 2, seed=0, profile="smoke", fit_options=quick)
    result(smoke, store=store, dataset=dataset, progress=False)
    assert not result(smoke, store=store, dataset=dataset, progress=False)["from_store"]  # smoke always trains


def test_the_recipe_sets_ramps_as_shares_of_the_run_and_keys_them():
    from ssl_teach.experiments import recipe
    assert recipe("pseudo_label", 1000) == {"alpha_f": 1.0, "t1": 0, "t2": 400, "threshold": 0.95}
    assert recipe("mixmatch", 1000)["rampup_steps"] == 250 and recipe("fixmatch", 1000) == {}
    short = Run("pi_model", "mnist", fit_options={"steps": 1000})
    assert short.config()["hyperparameters"]["rampup_steps"] == 400  # the ramp follows the run's length
    assert short.label == "pi_model[steps=1000]"  # the recipe's own ramp is not a variant
    assert Run("pi_model", "mnist").config()["hyperparameters"]["rampup_steps"] == int(0.4 * get_profile("cpu").steps)
    assert Run("pi_model", "mnist", options={"w_max": 10.0}).label == "pi_model[w_max=10.0]"
    with pytest.raises(ValueError, match="pseudo_label has no hyper-parameter tau"):
        Run("pseudo_label", "mnist", options={"tau": 0.9})


def test_every_method_is_built_and_trains_a_step_with_its_views():
    from ssl_teach.experiments import METHODS, build
    from ssl_teach.methods import SimMatch
    from ssl_teach.train import fit
    dataset = synthetic_dataset(n_per_class=60)
    data = protocol_data(dataset, 2, 0, "smoke", device="cpu")
    for name in METHODS:
        method = build(Run(name, "mnist", 2, profile="smoke"), data)
        history = fit(method, data, "smoke", steps=1, batch_size=4, mu=2, progress=False)
        assert 0.0 <= history.final_accuracy <= 1.0, name
        if isinstance(method, SimMatch):
            assert len(method.bank) == len(data.labeled)  # the bank holds the labeled images
    from ssl_teach.augment import StrongAugment, WeakAugment
    assert isinstance(build(Run("supervised", "mnist", 2, profile="smoke"), data).weak, WeakAugment)
    assert isinstance(build(Run("supervised_strong", "mnist", 2, profile="smoke"), data).weak, StrongAugment)


def test_compare_pairs_a_method_with_its_floor_and_ceiling(tmp_path, monkeypatch):
    from ssl_teach import experiments
    monkeypatch.delenv("SSL_TEACH_RETRAIN", raising=False)
    accs = {("supervised", 10): 0.80, ("supervised_strong", 10): 0.85, ("supervised", None): 0.99,
            ("fixmatch", 10): 0.95}

    def fake_result(run, **kwargs):
        return {"seed": run.seed, "test_acc": accs[(run.method, run.n_per_class)], "method": run.label}
    monkeypatch.setattr(experiments, "result", fake_result)
    c = experiments.compare("fixmatch", "mnist", "cpu")
    assert [r["seed"] for r in c.method] == [0, 1, 2] and c.headline.gain == pytest.approx(15.0)
    assert c.headline.share == pytest.approx(100 * 15 / 19)
    strong = experiments.compare("fixmatch", "mnist", "cpu", floor_method="supervised_strong")
    assert strong.headline.gain == pytest.approx(10.0)


def test_stored_reads_a_run_and_never_trains_it_outside_the_smoke_profile(tmp_path, monkeypatch):
    from ssl_teach import experiments
    dataset, store, quick, run = _quick_run(tmp_path, monkeypatch)
    assert experiments.stored(run, store=store, dataset=dataset) is None
    assert store.records() == []  # nothing was trained
    trained = result(run, store=store, dataset=dataset, progress=False)
    again = experiments.stored(run, store=store, dataset=dataset)
    assert again["from_store"] and again["test_acc"] == trained["test_acc"]
    other = dataclasses.replace(run, seed=run.seed + 1)  # a labeled set the store lacks
    assert experiments.stored_all([run, other], store=store, dataset=dataset) is None  # one is missing
    assert [r["test_acc"] for r in experiments.stored_all([run], store=store, dataset=dataset)] == [trained["test_acc"]]
    smoke = Run("supervised", "mnist", 2, seed=0, profile="smoke", fit_options=quick)
    assert not experiments.stored(smoke, store=store, dataset=dataset)["from_store"]  # smoke trains
    # compare(train=False) gives nothing when one of the method's seeds is missing, before training anything
    monkeypatch.setenv("SSL_TEACH_RESULTS", str(tmp_path))
    assert experiments.compare("fixmatch", "mnist", "cpu", data=dataset, train=False) is None


def test_every_run_the_chapters_read_is_in_the_committed_store():
    from ssl_teach.book_runs import ablation_runs, budget_study
    from ssl_teach.experiments import book_runs, recipe_study
    runs = book_runs("cpu")
    assert len({(r.label, r.dataset, r.seed, r.n_per_class) for r in runs}) == len(runs)  # no run twice
    store = Store(shipped_root())
    # the chapters' headlines and variants, chapter 0's recipe study, the appendix's budget study and
    # the isolating ablations of chapters 3 to 6 with their credit references (extra labeled sets too)
    read = runs + recipe_study("cpu") + budget_study("book") + ablation_runs("book")
    missing = [f"{r.label} {r.dataset} {r.n_per_class}/class seed {r.seed}" for r in read
               if store.load(r.config(), label=r.label) is None]
    assert not missing, ("make experiments (python -m ssl_teach.experiments --book, --budgets, --ablations) "
                         f"would train {missing}")


def test_make_experiments_trains_every_run_the_chapters_read(monkeypatch, capsys):
    from ssl_teach import experiments
    asked = []

    def fake_results(runs, **kwargs):
        asked.extend(runs)
        return [{"method": r.label, "n_per_class": r.n_per_class, "seed": r.seed, "test_acc": 0.5,
                 "from_store": True, "seconds": 1.0} for r in runs]
    monkeypatch.setattr(experiments, "results", fake_results)
    experiments.main(["--book", "--profile", "cpu"])
    assert sorted(map(repr, asked)) == sorted(map(repr, experiments.book_runs("cpu")))
    assert {r.label for r in asked} >= {"mixmatch[bn_mode=separate]", "fixmatch[threshold=0.8]", "supervised_strong"}
    assert "fixmatch[threshold=0.99]" in capsys.readouterr().out


def test_the_grid_has_every_method_at_every_budget_and_reuses_the_chapters_runs():
    from ssl_teach.experiments import GRID_BUDGETS, GRID_METHODS, book_runs, grid_runs
    runs = grid_runs("book")
    assert len(runs) == len(GRID_METHODS) * len(GRID_BUDGETS) * 2 * 3 + 2 * 3  # plus the ceilings
    assert {r.n_per_class for r in runs} == {1, 4, 10, 25, None} and sorted(GRID_BUDGETS) == [1, 4, 10, 25]
    keys = {repr(r.config()) for r in runs}
    chapters = [r for r in book_runs("book") if r.n_per_class == 10 and r.label == r.method]
    assert chapters and all(repr(r.config()) in keys for r in chapters if r.method in GRID_METHODS)
    from ssl_teach.selfmatch_runs import BUDGETS, DATASET, equal_compute_run
    assert all(repr(equal_compute_run(n, s, "book").config()) in keys for n in BUDGETS for s in (0, 1, 2))
    assert DATASET == "mnist"


def test_fill_trains_only_what_is_missing_and_goes_on_where_it_stopped(tmp_path, monkeypatch):
    from ssl_teach import experiments
    dataset, store, quick, _ = _quick_run(tmp_path, monkeypatch)
    runs = [Run("supervised", "mnist", 2, seed=s, fit_options=quick) for s in (0, 1)]
    trained = []
    real = experiments.result

    def result_on_synthetic(run, store=None, force=False, **kwargs):
        record = real(run, store=store, force=force, dataset=dataset, progress=False)
        trained.extend([] if record["from_store"] else [run.seed])
        return record
    monkeypatch.setattr(experiments, "result", result_on_synthetic)
    monkeypatch.setattr(Run, "config", lambda self, data=None, _c=Run.config: _c(self, data or dataset))
    experiments.fill(runs[:1], store=store)  # an interrupted grid: one run done
    experiments.fill(runs, store=store)
    assert trained == [0, 1] and len(store.records()) == 2  # the second call trained only the missing one
    assert experiments.estimated_seconds(runs[0], store.records()) > 0


def test_the_unlabeled_pool_option_keys_apart_and_leaves_the_whole_pool_run_as_it_was():
    from ssl_teach.experiments import pool_runs
    whole, tenth = Run("fixmatch", "mnist"), Run("fixmatch", "mnist", unlabeled_fraction=0.1)
    assert "unlabeled_fraction" not in whole.config()  # the chapters' runs keep their keys
    assert tenth.config()["unlabeled_fraction"] == 0.1 and tenth.label == "fixmatch[unlabeled=0.1]"
    with pytest.raises(ValueError, match=r"unlabeled_fraction must be a number in \(0, 1\], got 0"):
        Run("fixmatch", "mnist", unlabeled_fraction=0)
    runs = pool_runs({"mnist": "mixmatch"})
    assert {(r.method, r.unlabeled_fraction) for r in runs} == {(m, f) for m in ("fixmatch", "mixmatch")
                                                               for f in (0.1, 0.3, 1.0)}
    assert len(runs) == 2 * 3 * 3


def test_the_pool_studys_second_method_is_chosen_on_validation(tmp_path, monkeypatch):
    from ssl_teach import experiments
    store = Store(tmp_path)
    history = lambda val: {"method": "x", "train": {"step": [1]},  # noqa: E731
                           "eval": {"step": [1], "test_acc": [0.99 - val], "val_acc": [val]}}
    for method, val in (("mixmatch", 0.90), ("simmatch", 0.95), ("fixmatch", 0.99)):
        for s in (0, 1, 2):
            store.save(Run(method, "mnist", seed=s).config(), history(val), seconds=1.0)
    assert experiments.best_other_method("mnist", store=store) == "simmatch"  # best validation, not best test
    assert experiments.best_other_method("fashion_mnist", store=store) is None


def test_the_ablation_variants_build_the_method_they_name():
    from ssl_teach.methods import FixMatch, MixMatchWithoutMixUp
    data = protocol_data(synthetic_dataset(n_per_class=60), 2, 0, "smoke", device="cpu")
    weak_weak = experiments_build(Run("fixmatch_weak_weak", "mnist", 2, profile="smoke"), data)
    assert type(weak_weak) is FixMatch and weak_weak.strong is weak_weak.weak  # pseudo-label and train on weak
    assert experiments_build(Run("fixmatch", "mnist", 2, profile="smoke"), data).strong is not None
    no_mixup = experiments_build(Run("mixmatch_without_mixup", "mnist", 2, profile="smoke"), data)
    assert type(no_mixup) is MixMatchWithoutMixUp and not no_mixup.use_mixup
    assert Run("mixmatch_without_mixup", "mnist").config()["hyperparameters"]["rampup_steps"] == \
        Run("mixmatch", "mnist").config()["hyperparameters"]["rampup_steps"]  # the same recipe


def experiments_build(run, data):
    from ssl_teach.experiments import build
    return build(run, data)


def test_the_floors_and_ceilings_budgets_are_the_ones_validation_chose():
    """PROTOCOL_FIT's book budgets are what choose_budget picks from the committed budget study:
    the best mean validation accuracy among the candidates flat on validation (seeds 0 and 1)."""
    from ssl_teach.book_runs import BUDGET_CANDIDATES, choose_budget
    from ssl_teach.experiments import PROTOCOL_FIT, converged
    from ssl_teach.train import History
    store = Store(shipped_root())
    for role, by_dataset in BUDGET_CANDIDATES.items():
        for dataset in by_dataset:
            chosen = choose_budget(role, dataset, lambda run: store.load(run.config()),
                                   lambda r: converged(History.from_dict(r["history"])))
            assert chosen == PROTOCOL_FIT["book"][role][dataset], (role, dataset)

