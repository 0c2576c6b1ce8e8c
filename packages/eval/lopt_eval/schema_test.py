import json

import numpy as np
import pytest

from lopt_eval import schema


def results():
    run = schema.Run("adam", "digits_mlp", "baseline", {"learning_rate": 1e-3}, 3, [0, 1],
                     train_loss=[[2.3, 1.0, np.nan], [2.2, 0.9, 0.5]], step_seconds=0.001, meta_loss=[1.1, np.inf],
                     valid_steps=[0, 2], valid_loss=[[2.3, 1.1], [2.2, 0.8]])
    summary = schema.Summary("adam", "digits_mlp", 0.7, 0.1, {"value": 2.0, "bound": "lower", "baseline": "adam"})
    return schema.Results(config={"num_steps": 3, "seeds": (0, 1)}, runs=[run], summary=[summary])


def test_round_trip_keeps_everything_and_writes_non_finite_as_null(tmp_path):
    path = tmp_path / "out" / "results.json"
    schema.save(str(path), results())
    document = json.loads(path.read_text())
    assert document["schema"] == "lopt-eval/1" and document["runs"][0]["train_loss"][0][2] is None
    assert document["runs"][0]["meta_loss"] == [1.1, None] and "jax" in document["versions"]
    back = schema.load(str(path))
    run = back.runs[0]
    np.testing.assert_array_equal(run.train_loss, [[2.3, 1.0, np.nan], [2.2, 0.9, 0.5]])
    assert np.isnan(run.meta_loss[1]) and run.valid_steps == [0, 2] and run.hyperparameters == {"learning_rate": 1e-3}
    assert back.summary[0].speedup == {"value": 2.0, "bound": "lower", "baseline": "adam"}
    assert back.config == {"num_steps": 3, "seeds": [0, 1]} and back.created.endswith("Z")


def test_invalid_documents_are_named(tmp_path):
    with pytest.raises(schema.ResultsError, match="role 'winner'"):
        schema.Run("x", "t", "winner", {}, 1, [0], [[1.0]], 0.1, [1.0])
    with pytest.raises(schema.ResultsError, match=r"train_loss has shape \(1, 2\), expected \(1 seeds, 3 steps\)"):
        schema.Run("x", "t", "trial", {}, 3, [0], [[1.0, 2.0]], 0.1, [1.0])
    (tmp_path / "a.json").write_text('{"schema": "other/1"}')
    with pytest.raises(schema.ResultsError, match="a.json: schema 'other/1', expected 'lopt-eval/1'"):
        schema.load(str(tmp_path / "a.json"))
    (tmp_path / "b.json").write_text('{"schema": "lopt-eval/1", "config": {}}')
    with pytest.raises(schema.ResultsError, match="does not follow"):
        schema.load(str(tmp_path / "b.json"))
    (tmp_path / "c.json").write_text("{")
    with pytest.raises(schema.ResultsError, match="not JSON"):
        schema.load(str(tmp_path / "c.json"))


def part(tasks, multiple, created):
    config = {"candidate": "lopt", "num_steps": 3, "seeds": [0, 1], "baselines": ["adam"], "tasks": tasks,
              "baseline_multiple": multiple}
    runs = [schema.Run("lopt", t, "candidate", {}, 3, [0, 1], [[1.0] * 3] * 2, 0.1, [1.0, 1.0]) for t in tasks]
    summary = [schema.Summary("lopt", t, 1.0, 0.0) for t in tasks]
    return schema.Results(config=config, runs=runs, summary=summary, created=created)


def test_merge_concatenates_parts_and_keeps_each_config(tmp_path):
    merged = schema.merge([part(["a", "b"], 4, "2026-01-01T00:00:00Z"), part(["c"], 1, "2026-01-02T00:00:00Z")])
    assert merged.config["tasks"] == ["a", "b", "c"] and [s.task for s in merged.summary] == ["a", "b", "c"]
    assert [p["baseline_multiple"] for p in merged.config["parts"]] == [4, 1]
    assert merged.config["num_steps"] == 3 and merged.created == "2026-01-02T00:00:00Z"
    schema.save(str(tmp_path / "merged.json"), merged)
    assert [r.task for r in schema.load(str(tmp_path / "merged.json")).runs] == ["a", "b", "c"]


def test_merge_refuses_parts_that_do_not_belong_together():
    other_horizon = part(["c"], 1, "")
    other_horizon.config["num_steps"] = 5
    with pytest.raises(schema.ResultsError, match="parts differ in num_steps: 3 vs 5"):
        schema.merge([part(["a"], 4, ""), other_horizon])
    with pytest.raises(schema.ResultsError, match="task 'a' is evaluated by two parts"):
        schema.merge([part(["a"], 4, ""), part(["a", "c"], 4, "")])
    with pytest.raises(schema.ResultsError, match="no results"):
        schema.merge([])
    renamed = part(["c"], 1, "")
    renamed = schema._renamed(renamed, "checkpoint:run/theta")
    with pytest.raises(schema.ResultsError, match="parts differ in candidate: 'lopt' vs 'checkpoint:run/theta'"):
        schema.merge([part(["a"], 4, ""), renamed])


def test_merge_can_name_one_candidate_for_parts_named_differently():
    merged = schema.merge([part(["a"], 4, ""), schema._renamed(part(["c"], 1, ""), "pretrained:x")], candidate="x")
    assert merged.config["candidate"] == "x" and merged.config["parts"][1]["candidate"] == "x"
    assert {r.optimizer for r in merged.runs} == {"x"} and {s.optimizer for s in merged.summary} == {"x"}
