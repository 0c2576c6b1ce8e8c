"""The baseline cache: a stored baseline is returned for its own key only, and evaluate() reuses it."""

import datetime
import gzip
import json
import os
import types

import lopt_architectures as la
import lopt_tasks as lt
import numpy as np
import pytest

from lopt_eval import baseline_cache, evaluation, schema


def _run(role, lr, loss):
    return schema.Run("adam", "t", role, {"learning_rate": lr}, 3, [0, 1], np.full((2, 3), loss), 0.01,
                      np.full((2,), loss))


def _key(**changes):
    versions = {"lopt-eval": "0.1.0", "jax": "0.10.2"}
    kwargs = dict(length=12, versions=versions) | changes
    return baseline_cache.baseline_key("family:mlp:1", "adam", 3, [0, 1], **kwargs)


def test_round_trip_and_other_keys_miss(tmp_path):
    runs = [_run("trial", 1e-3, 0.5), _run("baseline", 1e-2, 0.2)]
    path = baseline_cache.store_baseline(str(tmp_path), _key(), runs[1], runs)
    assert os.path.basename(path).startswith("family_mlp_1__adam__T3__")
    best, loaded = baseline_cache.load_baseline(str(tmp_path), _key())
    assert best.hyperparameters == {"learning_rate": 1e-2}
    np.testing.assert_array_equal(best.train_loss, runs[1].train_loss)
    assert [r.role for r in loaded] == ["trial", "baseline"]
    # Anything that changes the numbers is another key: seeds, length, versions.
    assert baseline_cache.load_baseline(str(tmp_path), _key(length=24)) is None
    assert baseline_cache.load_baseline(
        str(tmp_path), _key(versions={"lopt-eval": "0.2.0", "jax": "0.10.2"})) is None
    other_seeds = baseline_cache.baseline_key("family:mlp:1", "adam", 3, [0, 1, 2], length=12,
                                              versions={"lopt-eval": "0.1.0", "jax": "0.10.2"})
    assert baseline_cache.load_baseline(str(tmp_path), other_seeds) is None


def test_a_file_holding_another_key_is_refused(tmp_path):
    runs = [_run("baseline", 1e-2, 0.2)]
    path = baseline_cache.store_baseline(str(tmp_path), _key(length=24), runs[0], runs)
    os.replace(path, baseline_cache.cache_path(str(tmp_path), _key()))
    with pytest.raises(schema.ResultsError, match="holds the baseline for"):
        baseline_cache.load_baseline(str(tmp_path), _key())


def test_store_needs_the_selected_run():
    runs = [_run("trial", 1e-3, 0.5)]
    with pytest.raises(ValueError, match="role is 'baseline'"):
        baseline_cache.store_baseline("/nonexistent", _key(), runs[0], runs)


def test_evaluate_reuses_a_cached_baseline(tmp_path, monkeypatch):
    task = lt.get_task("digits_mlp", batch_size=16, hidden_sizes=(8,))
    config = evaluation.EvaluationConfig(num_steps=4, seeds=(0,), baselines=("sgd",), baseline_multiple=1)
    tasks = {"digits_mlp:hidden_sizes=8:batch_size=16": task}
    first = evaluation.evaluate("sgd", lambda: la.sgd(learning_rate=0.1), tasks, config,
                                baseline_cache_dir=str(tmp_path))
    assert len(os.listdir(tmp_path)) == 1
    # A second evaluation must not tune again: make the sweep fail if it is called.
    monkeypatch.setattr(evaluation.baselines, "lr_sweep", lambda *a, **k: pytest.fail("baseline recomputed"))
    second = evaluation.evaluate("sgd", lambda: la.sgd(learning_rate=0.1), tasks, config,
                                 baseline_cache_dir=str(tmp_path))
    base = [s for s in first.summary if s.optimizer == "sgd" and s.task.startswith("digits")]
    again = [s for s in second.summary if s.optimizer == "sgd" and s.task.startswith("digits")]
    assert base[-1].final_loss_mean == again[-1].final_loss_mean


def test_stored_compressed_and_earlier_uncompressed_files_are_read(tmp_path, monkeypatch):
    runs = [_run("trial", 1e-3, 0.5), _run("baseline", 1e-2, 0.2)]
    path = baseline_cache.store_baseline(str(tmp_path), _key(), runs[1], runs)
    assert path.endswith(".json.gz")
    with gzip.open(path, "rt") as f:  # really gzip, holding the key
        assert json.load(f)["config"]["baseline_key"] == _key()
    # The same baseline stored again gives the same bytes (committed files do not churn).
    with open(path, "rb") as f:
        first = f.read()
    # Also when the clock has moved on between the two (the file records its creation time).
    class Later(datetime.datetime):
        @classmethod
        def now(cls, tz=None):
            return datetime.datetime(2099, 1, 1, tzinfo=tz)

    monkeypatch.setattr(schema, "datetime", types.SimpleNamespace(datetime=Later, timezone=datetime.timezone))
    assert schema.to_json(schema.Results(config={}, runs=[], summary=[]))["created"].startswith("2099")
    baseline_cache.store_baseline(str(tmp_path), _key(), runs[1], runs)
    with open(path, "rb") as f:
        assert f.read() == first
    # Different runs under the same key do replace it.
    changed = [_run("trial", 1e-3, 0.5), _run("baseline", 1e-2, 0.1)]
    baseline_cache.store_baseline(str(tmp_path), _key(), changed[1], changed)
    best, _ = baseline_cache.load_baseline(str(tmp_path), _key())
    assert best.train_loss[-1] == pytest.approx(0.1)
    # A file written uncompressed, as earlier versions did, is still found.
    legacy = str(tmp_path / "legacy")
    os.makedirs(legacy)
    plain = path[:-len(".gz")].replace(str(tmp_path), legacy)
    with gzip.open(path, "rb") as f, open(plain, "wb") as out:
        out.write(f.read())
    assert baseline_cache.stored_path(legacy, _key()) == plain
    best, _ = baseline_cache.load_baseline(legacy, _key())
    assert best.hyperparameters == {"learning_rate": 1e-2}


def test_a_truncated_compressed_file_is_refused_naming_it(tmp_path):
    runs = [_run("baseline", 1e-2, 0.2)]
    path = baseline_cache.store_baseline(str(tmp_path), _key(), runs[0], runs)
    with open(path, "rb") as f:
        data = f.read()
    with open(path, "wb") as f:
        f.write(data[: len(data) // 2])
    with pytest.raises(schema.ResultsError, match="not a complete gzip file") as e:
        baseline_cache.load_baseline(str(tmp_path), _key())
    assert path in str(e.value)


def test_stored_baselines_only_skips_and_lists_tasks_without_one(tmp_path, monkeypatch):
    config = evaluation.EvaluationConfig(num_steps=4, seeds=(0,), baselines=("sgd",), baseline_multiple=1)
    stored = "digits_mlp:hidden_sizes=8:batch_size=16"
    evaluation.evaluate("sgd", lambda: la.sgd(learning_rate=0.1), {stored: lt.get_task(
        "digits_mlp", batch_size=16, hidden_sizes=(8,))}, config, baseline_cache_dir=str(tmp_path))
    # Now ask for two tasks, one of which has no stored baseline: it is neither trained nor tuned.
    monkeypatch.setattr(evaluation.baselines, "lr_sweep", lambda *a, **k: pytest.fail("baseline tuned"))
    other = "digits_mlp:hidden_sizes=4:batch_size=16"
    tasks = {stored: lt.get_task("digits_mlp", batch_size=16, hidden_sizes=(8,)),
             other: lt.get_task("digits_mlp", batch_size=16, hidden_sizes=(4,))}
    lines = []
    results = evaluation.evaluate("sgd", lambda: la.sgd(learning_rate=0.1), tasks, config, log=lines.append,
                                  baseline_cache_dir=str(tmp_path), stored_baselines_only=True)
    assert {s.task for s in results.summary} == {stored}
    assert {r.task for r in results.runs} == {stored}
    assert list(results.config["skipped_tasks"]) == [other]
    assert "no stored sgd baseline" in results.config["skipped_tasks"][other]
    assert any(line.startswith(f"{other}: skipped") for line in lines)
    # Round trip through the results file keeps the list.
    schema.save(str(tmp_path / "r.json"), results)
    assert list(schema.load(str(tmp_path / "r.json")).config["skipped_tasks"]) == [other]
    with pytest.raises(ValueError, match="needs baseline_cache_dir"):
        evaluation.evaluate("sgd", lambda: la.sgd(learning_rate=0.1), tasks, config, stored_baselines_only=True)
