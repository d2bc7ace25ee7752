"""The results store: one JSON record per run, keyed by its configuration and the package version."""

import json

import pytest

import ssl_teach
from ssl_teach.store import Store, default_store, run_key

CONFIG = {"method": "fixmatch", "dataset": "mnist", "n_per_class": 10, "seed": 1, "profile": "cpu",
          "options": {}, "fit_options": {"steps": 4}}
HISTORY = {"method": "fixmatch", "train": {"step": [2, 4], "loss": [2.0, 1.5]},
           "eval": {"step": [2, 4], "test_acc": [0.5, 0.75], "val_acc": [0.4, 0.7], "time": [1.0, 2.0]}}


def test_a_saved_record_loads_back_with_the_fields_the_book_reads(tmp_path):
    store = Store(tmp_path)
    assert store.load(CONFIG) is None
    saved = store.save(CONFIG, HISTORY, seconds=2.5)
    loaded = store.load(CONFIG)
    assert loaded == json.loads(json.dumps(saved))
    for key, value in {"method": "fixmatch", "dataset": "mnist", "n_per_class": 10, "seed": 1, "profile": "cpu",
                       "steps": 4, "seconds": 2.5, "test_acc": 0.75, "val_acc": 0.7,
                       "version": ssl_teach.__version__, "config": CONFIG, "history": HISTORY}.items():
        assert loaded[key] == value, key
    assert {"when", "machine", "key"} <= loaded.keys() and loaded["machine"]["torch_threads"] >= 1
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == [store.path(CONFIG).name]  # no temporary left
    assert store.records() == [loaded]
    (tmp_path / "model_choice.json").write_text("{}")  # another file of the folder is not a run
    assert store.records() == [loaded]


def test_the_key_changes_with_any_setting_and_with_the_package_version(monkeypatch):
    key = run_key(CONFIG)
    assert run_key(dict(CONFIG)) == key
    assert run_key({**CONFIG, "seed": 2}) != key
    assert run_key({**CONFIG, "fit_options": {"steps": 5}}) != key
    monkeypatch.setattr(ssl_teach, "__version__", "9.9.9")
    assert run_key(CONFIG) != key


def test_a_label_names_the_record_and_follows_a_changed_default(tmp_path):
    store = Store(tmp_path)
    store.save(CONFIG, HISTORY, seconds=1.0, label="fixmatch[threshold=0.9]")
    assert store.load(CONFIG)["method"] == "fixmatch[threshold=0.9]"
    assert store.load(CONFIG, label="fixmatch")["method"] == "fixmatch"  # 0.9 became the default
    assert json.loads(store.path(CONFIG).read_text())["method"] == "fixmatch"  # rewritten on disk


def test_the_ceiling_is_filed_as_all_labels(tmp_path):
    path = Store(tmp_path).path({**CONFIG, "n_per_class": None})
    assert path.parent == tmp_path / "cpu" / "mnist" and path.name.startswith("fixmatch_all_seed1_")


def test_the_default_store_is_the_checkout_results_folder_unless_the_environment_says_otherwise(monkeypatch, tmp_path):
    monkeypatch.delenv("SSL_TEACH_RESULTS", raising=False)
    assert default_store().name == "results" and (default_store().parent / "chapters").is_dir()
    monkeypatch.setenv("SSL_TEACH_RESULTS", str(tmp_path))
    assert default_store() == tmp_path


def test_a_failed_write_leaves_no_partial_file(tmp_path):
    with pytest.raises(TypeError):
        Store(tmp_path).save(CONFIG, {**HISTORY, "bad": object()}, seconds=1.0)
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]
