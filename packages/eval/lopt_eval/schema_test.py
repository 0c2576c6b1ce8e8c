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
