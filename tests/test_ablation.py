"""Ablations and credit splits: one change at a time, paired by seed, flat on validation."""

import pytest
import torch
from conftest import synthetic_dataset
from scipy import stats

from ssl_teach import ablation, choices, experiments
from ssl_teach.augment import for_dataset
from ssl_teach.book_runs import ABLATION_BUDGET, ABLATION_DATASET, ABLATIONS, ablation_runs, credit_runs
from ssl_teach.evaluation import statistics_pool
from ssl_teach.headline import converged
from ssl_teach.methods import Supervised, SupervisedPoolStatistics
from ssl_teach.models import LeNet
from ssl_teach.protocol import Run, protocol_data
from ssl_teach.train import History, fit


def _history(val, test=None):
    steps = [100.0 * (i + 1) for i in range(len(test or val))]
    evals = {"step": steps, "test_acc": test or val, "time": steps}
    if val is not None:
        evals["val_acc"] = val
    return History("m", eval=evals)


def test_convergence_is_judged_on_validation_within_five_images():
    # the last quarter of 8 evaluations is steps 600-800: validation moves 0.8 points (4 of 500 images)
    flat_on_val = _history([0.5, 0.9, 0.95, 0.96, 0.97, 0.970, 0.974, 0.978], test=[0.9] * 7 + [0.92])
    assert converged(flat_on_val)  # the test curve's 2-point jump is not looked at
    assert not converged(flat_on_val, metric="test_acc")
    rising = _history([0.5, 0.9, 0.95, 0.96, 0.97, 0.970, 0.976, 0.982])  # 1.2 points: 6 images
    assert not converged(rising)
    ceiling = _history(None, test=[0.9, 0.95, 0.97, 0.98, 0.98, 0.981, 0.982, 0.983])
    assert converged(ceiling)  # no validation split: judged on test (0.3 points, within 0.5)
    with pytest.raises(ValueError, match="metric must be one of"):
        converged(flat_on_val, metric="train_acc")


def _fake_store(monkeypatch, accs):
    """``stored`` answers a record with ``accs[label][seed]`` and a flat validation curve."""
    def fake_stored(run, store=None, dataset=None):
        acc = accs.get(run.label)
        if acc is None or run.seed >= len(acc):
            return None
        history = _history([0.9] * 8, test=[acc[run.seed]] * 8).to_dict()
        return {"seed": run.seed, "test_acc": acc[run.seed], "history": history}
    monkeypatch.setattr(experiments, "stored", fake_stored)


def test_an_ablation_pairs_each_variant_with_the_full_method_by_seed(monkeypatch):
    _fake_store(monkeypatch, {"fixmatch": [0.97, 0.96, 0.98], "fixmatch_weak_weak": [0.90, 0.92, 0.91]})
    full, weak_weak = ablation.ablation(5, "cpu")
    assert full.label == "fixmatch" and full.difference is None and full.verdict == "reference"
    diffs = [-7.0, -4.0, -7.0]  # by hand, seed by seed
    assert weak_weak.difference.mean == pytest.approx(-6.0)
    assert weak_weak.difference.sd == pytest.approx(stats.tstd(diffs))
    assert weak_weak.difference.p == pytest.approx(stats.ttest_rel([90, 92, 91], [97, 96, 98]).pvalue)
    assert weak_weak.verdict == "behind" and weak_weak.flat
    numbers = ablation.numbers([full, weak_weak])
    assert numbers["1_diff"] == pytest.approx(-6.0) and numbers["0_mean"] == pytest.approx(97.0)
    assert "behind" in ablation.table([full, weak_weak])


def test_a_difference_inside_twice_its_spread_is_a_tie_and_a_missing_run_answers_nothing(monkeypatch):
    _fake_store(monkeypatch, {"fixmatch": [0.97, 0.96, 0.98], "fixmatch_weak_weak": [0.98, 0.94, 0.98]})
    assert ablation.ablation(5, "cpu")[1].verdict == "a tie"  # -0.33 +- 1.15 points
    _fake_store(monkeypatch, {"fixmatch": [0.97, 0.96, 0.98]})
    assert ablation.ablation(5, "cpu") is None
    with pytest.raises(ValueError, match="chapter must be one of"):
        ablation.ablation(2)


def test_a_credit_split_gives_the_batchnorm_pool_its_own_line(monkeypatch):
    steps = experiments.get_profile("cpu").steps
    _fake_store(monkeypatch, {"supervised": [0.80, 0.82, 0.81], "supervised_bn_pool": [0.81, 0.83, 0.82],
                              f"supervised_strong[eval_every=250,steps={steps}]": [0.90, 0.91, 0.92],
                              "fixmatch": [0.97, 0.97, 0.97]})
    lines = ablation.credit_split("fixmatch", "mnist", 4, "cpu")
    assert [line.label.split("[")[0] for line in lines] == ["supervised", "supervised_bn_pool", "supervised_strong",
                                                           "fixmatch"]
    assert [round(line.difference.mean, 6) for line in lines[1:]] == [1.0, 10.0, 16.0]


def test_the_ablations_change_one_thing_at_the_budget_where_methods_separate():
    runs = ablation_runs("cpu")
    assert len({(r.label, r.dataset, r.n_per_class, r.seed) for r in runs}) == len(runs)
    for full, variants in ABLATIONS.values():
        for method, options in variants:
            run = Run(method, ABLATION_DATASET, ABLATION_BUDGET, 0, "cpu", dict(options))
            assert run in runs and run.steps == Run(full, ABLATION_DATASET, ABLATION_BUDGET).steps
            changed = {k for k, v in run.config()["hyperparameters"].items()
                       if Run(full, "mnist").config()["hyperparameters"].get(k) != v}
            assert method != full or changed == set(options)  # a renamed method changes its class only
    strong = credit_runs("mnist", 10, "cpu")[-1]
    assert strong.method == "supervised_strong" and strong.steps == experiments.get_profile("cpu").steps


def test_the_batchnorm_pool_floor_has_the_floors_weights_and_the_unlabeled_statistics():
    data = protocol_data(synthetic_dataset(n_per_class=60), 2, 0, "smoke", device="cpu")
    weak, _ = for_dataset("mnist")
    methods = []
    for cls in (Supervised, SupervisedPoolStatistics):
        torch.manual_seed(0)
        method = cls(LeNet(), weak, ema_decay=None)
        fit(method, data, "smoke", steps=3, batch_size=4, progress=False)
        methods.append(method)
    floor, pool = methods
    assert all(torch.equal(a, b) for a, b in zip(floor.model.state_dict().values(), pool.model.state_dict().values()))
    assert torch.equal(statistics_pool(floor, data), data.labeled)
    assert torch.equal(statistics_pool(pool, data), data.unlabeled)
    assert not pool.uses_unlabeled  # it never trains on an unlabeled image


def test_a_choice_on_validation_keeps_the_recipe_unless_another_value_scores_higher(monkeypatch):
    def fake_stored(run, store=None, dataset=None):
        w = run.config()["hyperparameters"]["w_max"]
        val = {30.0: [0.97, 0.96], 100.0: [0.98, 0.97]}.get(w)
        if val is None:
            return None
        return {"seed": run.seed, "val_acc": val[run.seed], "test_acc": 0.5}
    monkeypatch.setattr(experiments, "stored", fake_stored)
    choice = choices.validation_choice("mean_teacher", "mnist", "w_max", (30.0, 100.0), "cpu")
    assert choice.recipe == 30.0 and choice.validation == pytest.approx({30.0: 96.5, 100.0: 97.5})
    assert choice.winner == 100.0 and "disagree" in choice.sentence
    only_recipe = choices.validation_choice("mean_teacher", "mnist", "w_max", (30.0, 10.0), "cpu")
    assert list(only_recipe.records) == [30.0] and "no choice" in only_recipe.sentence


def test_the_budget_report_picks_the_best_flat_candidate_on_validation(monkeypatch):
    from ssl_teach.book_runs import BUDGET_CANDIDATES, choose_budget

    def fake_stored(run, store=None, dataset=None, retrain=True):
        steps = run.steps
        val = [0.90] * 7 + [0.90 + 0.001 * steps / 1000]  # flat; longer runs score a little higher
        if run.n_per_class is None and steps == 6000:  # the MNIST ceiling's longer candidate
            val = [0.5, 0.6, 0.7, 0.8, 0.85, 0.88, 0.91, 0.95]  # higher, but still rising: never chosen
        return {"seed": run.seed, "val_acc": val[-1], "test_acc": 0.5, "history": _history(val).to_dict()}
    monkeypatch.setattr(experiments, "stored", fake_stored)
    report = choices.budget_report("cpu")
    assert report.count("chosen on validation") == 4 and "(not flat)" in report
    flat = lambda r: converged(History.from_dict(r["history"]))  # noqa: E731
    longest = choose_budget("ceiling", "fashion_mnist", fake_stored, flat, "cpu")
    assert longest == BUDGET_CANDIDATES["ceiling"]["fashion_mnist"][1]  # 5,000 steps: flat and higher
    assert choose_budget("ceiling", "mnist", fake_stored, flat, "cpu") == BUDGET_CANDIDATES["ceiling"]["mnist"][0]


def test_a_run_too_short_to_judge_is_reported_as_not_flat_instead_of_failing(monkeypatch):
    def fake_stored(run, store=None, dataset=None):  # one evaluation: the smoke profile's runs
        return {"seed": run.seed, "test_acc": 0.9, "history": _history([0.9]).to_dict()}
    monkeypatch.setattr(experiments, "stored", fake_stored)
    lines = ablation.ablation(5, "smoke")
    assert lines is not None and not any(line.flat for line in lines)


def test_the_open_ablations_take_more_labeled_sets_in_the_book_profile_only():
    from ssl_teach.book_runs import EXTRA_SEEDS

    assert ablation.ablation_seeds(5, "cpu") == tuple(experiments.get_profile("cpu").seeds)
    assert ablation.ablation_seeds(5, "book") == (0, 1, 2, *EXTRA_SEEDS[5])
    assert ablation.ablation_seeds(4, "book") == (0, 1, 2)
    book = {(r.label, r.seed) for r in ablation_runs("book")}
    assert {("fixmatch_weak_weak", s) for s in EXTRA_SEEDS[5]} <= book
    assert not any(r.seed in EXTRA_SEEDS[5] for r in ablation_runs("cpu"))


def test_a_missing_difference_is_quoted_as_missing_and_a_clear_one_with_its_verdict():
    import math

    from ssl_teach.uncertainty import paired_difference

    missing = ablation.difference_numbers(None)
    assert math.isnan(missing["diff"]) and missing["verdict"] == "not in the store"
    clear = ablation.difference_numbers(paired_difference([91.0, 92.0, 93.5], [90.0, 90.5, 91.5]))
    assert clear["diff"] == pytest.approx(1.5) and clear["verdict"] == "ahead" and clear["low"] < 1.5 < clear["high"]


def test_the_extra_labeled_sets_are_paired_once_all_are_stored_and_the_protocols_three_until_then(monkeypatch):
    _fake_store(monkeypatch, {"fixmatch": [0.97, 0.96, 0.98, 0.97], "fixmatch_weak_weak": [0.90, 0.92, 0.91, 0.93]})
    assert [len(line.accs) for line in ablation.ablation(5, "book")] == [3, 3]  # seed 4 missing
    _fake_store(monkeypatch, {"fixmatch": [0.97, 0.96, 0.98, 0.97, 0.95],
                              "fixmatch_weak_weak": [0.90, 0.92, 0.91, 0.93, 0.94]})
    full, weak_weak = ablation.ablation(5, "book")
    assert len(weak_weak.accs) == 5 and weak_weak.difference.mean == pytest.approx((-7 - 4 - 7 - 4 - 1) / 5)


def test_the_budget_report_trains_nothing_even_in_the_smoke_profile(tmp_path, monkeypatch):
    # its candidates are the floor's and ceiling's full budgets (up to 6,000 steps): a smoke
    # execution of the appendix that trained them timed out in CI
    monkeypatch.setenv("SSL_TEACH_RESULTS", str(tmp_path))
    monkeypatch.setattr(experiments, "result", lambda *a, **k: pytest.fail("budget_report trained a run"))
    report = choices.budget_report("smoke")
    assert "not in the store" in report and not list(tmp_path.rglob("*.json"))
