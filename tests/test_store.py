"""The results store: one JSON record per run, keyed by its configuration and the results epoch;
the reader's own folder read before the records shipped with the package."""

import json

import pytest

import ssl_teach
import ssl_teach.store as store_module
from ssl_teach.store import DamagedRecordError, Store, default_store, run_key, shipped_root

CONFIG = {"method": "fixmatch", "dataset": "mnist", "n_per_class": 10, "seed": 1, "profile": "book",
          "options": {}, "fit_options": {"steps": 4}, "data": "mnist:4000+1000:dc64dc5e3307e08d"}
HISTORY = {"method": "fixmatch", "train": {"step": [2, 4], "loss": [2.0, 1.5]},
           "eval": {"step": [2, 4], "test_acc": [0.5, 0.75], "val_acc": [0.4, 0.7], "time": [1.0, 2.0]}}


def test_a_saved_record_loads_back_with_the_fields_the_book_reads(tmp_path):
    store = Store(tmp_path)
    assert store.load(CONFIG) is None
    saved = store.save(CONFIG, HISTORY, seconds=2.5)
    loaded = store.load(CONFIG)
    assert loaded == json.loads(json.dumps(saved))
    for key, value in {"method": "fixmatch", "dataset": "mnist", "n_per_class": 10, "seed": 1, "profile": "book",
                       "steps": 4, "seconds": 2.5, "test_acc": 0.75, "val_acc": 0.7,
                       "epoch": store_module.RESULTS_EPOCH, "version": ssl_teach.__version__, "config": CONFIG,
                       "history": HISTORY}.items():
        assert loaded[key] == value, key
    assert {"when", "machine", "key"} <= loaded.keys() and loaded["machine"]["torch_threads"] >= 1
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == [store.path(CONFIG).name]  # no temporary left
    assert store.records() == [loaded]
    (tmp_path / "model_choice.json").write_text("{}")  # another file of the folder is not a run
    assert store.records() == [loaded]


def test_the_key_changes_with_any_setting_the_images_and_the_epoch_but_not_the_release(monkeypatch):
    key = run_key(CONFIG)
    assert run_key(dict(CONFIG)) == key
    assert run_key({**CONFIG, "seed": 2}) != key
    assert run_key({**CONFIG, "fit_options": {"steps": 5}}) != key
    assert run_key({**CONFIG, "data": "mnist_full:60000+10000"}) != key
    monkeypatch.setattr(ssl_teach, "__version__", "9.9.9")
    assert run_key(CONFIG) == key  # a release keeps the store
    monkeypatch.setattr(store_module, "RESULTS_EPOCH", store_module.RESULTS_EPOCH + 1)
    assert run_key(CONFIG) != key  # a change of training behaviour does not


def test_a_label_names_the_record_and_follows_a_changed_default(tmp_path):
    store = Store(tmp_path)
    store.save(CONFIG, HISTORY, seconds=1.0, label="fixmatch[threshold=0.9]")
    assert store.load(CONFIG)["method"] == "fixmatch[threshold=0.9]"
    assert store.load(CONFIG, label="fixmatch")["method"] == "fixmatch"  # 0.9 became the default
    assert json.loads(store.path(CONFIG).read_text())["method"] == "fixmatch"  # rewritten on disk


def test_the_ceiling_is_filed_as_all_labels(tmp_path):
    path = Store(tmp_path).path({**CONFIG, "n_per_class": None})
    assert path.parent == tmp_path / "book" / "mnist" and path.name.startswith("fixmatch_all_seed1_")


def test_the_default_store_is_the_shipped_folder_in_a_checkout_else_the_readers_own(monkeypatch, tmp_path):
    monkeypatch.delenv("SSL_TEACH_RESULTS", raising=False)
    assert default_store() == shipped_root() and shipped_root().parent.name == "ssl_teach"
    assert Store().shipped is None  # an author's checkout: one folder, the book's
    monkeypatch.setenv("SSL_TEACH_RESULTS", str(tmp_path))
    assert default_store() == tmp_path and Store().shipped == shipped_root()
    monkeypatch.delenv("SSL_TEACH_RESULTS")
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr(store_module, "in_checkout", lambda: False)  # an installed package (Colab)
    assert default_store() == tmp_path / ".cache" / "ssl_teach" / "results"


def test_an_installed_store_reads_the_shipped_records_and_writes_only_its_own(tmp_path):
    shipped, own = tmp_path / "shipped", tmp_path / "own"
    Store(shipped).save(CONFIG, HISTORY, seconds=2.0, label="fixmatch[old]")
    before = {p: p.read_bytes() for p in shipped.rglob("*.json")}
    reader = Store(own, shipped=shipped)
    record = reader.load(CONFIG, label="fixmatch")
    assert record["seconds"] == 2.0 and record["method"] == "fixmatch"  # relabelled in memory only
    assert reader.records()[0]["key"] == record["key"]
    reader.save(CONFIG, {**HISTORY, "eval": {**HISTORY["eval"], "test_acc": [0.5, 0.8]}}, seconds=3.0)
    assert reader.load(CONFIG)["test_acc"] == 0.8  # the reader's own run first
    assert {p: p.read_bytes() for p in shipped.rglob("*.json")} == before  # the shipped record untouched
    assert len(reader.records()) == 1 and reader.records()[0]["seconds"] == 3.0


def test_a_damaged_record_is_reported_with_its_path(tmp_path):
    store = Store(tmp_path)
    store.save(CONFIG, HISTORY, seconds=1.0)
    path = store.path(CONFIG)
    path.write_text(path.read_text()[:100])  # cut short
    with pytest.raises(DamagedRecordError, match=rf"{path} is damaged \(JSONDecodeError.*Delete it"):
        store.load(CONFIG)
    with pytest.raises(DamagedRecordError, match=str(path)):
        store.records()
    path.write_text('{"method": "fixmatch"}')
    with pytest.raises(DamagedRecordError, match=rf"{path} lacks key, dataset"):
        store.load(CONFIG)


def test_a_failed_write_leaves_no_partial_file(tmp_path):
    with pytest.raises(TypeError):
        Store(tmp_path).save(CONFIG, {**HISTORY, "bad": object()}, seconds=1.0)
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]
