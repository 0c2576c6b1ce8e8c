import json
import logging

import pytest

from lopt_es import workdir


def test_a_recorded_configuration_is_compared_field_by_field(tmp_path):
    workdir.write_run_config(str(tmp_path), {"std": 0.01, "family": ("mlp", "conv"), "seed": 0})
    # Tuples come back from JSON as lists; equal values are equal.
    workdir.check_run_config(str(tmp_path), {"std": 0.01, "family": ("mlp", "conv"), "seed": 0})
    with pytest.raises(workdir.ResumeError) as error:
        workdir.check_run_config(str(tmp_path), {"std": 0.02, "family": ["mlp"], "seed": 0, "augment": 0.5})
    assert str(error.value) == (
        f"the run in {tmp_path} was started with another configuration ({tmp_path / 'config.json'}): "
        'std: 0.01 when the run started, 0.02 now; family: ["mlp", "conv"] when the run started, ["mlp"] now; '
        "augment: (not set) when the run started, 0.5 now. Resume it with the recorded values, or start a new run "
        "in another workdir.")
    with open(tmp_path / "config.json") as f:
        assert json.load(f)["config"]["std"] == 0.01  # the record is kept


def test_a_workdir_without_a_record_adopts_the_configuration_and_a_damaged_record_is_refused(tmp_path):
    said = []
    workdir.check_run_config(str(tmp_path), {"std": 0.01}, said.append)
    assert len(said) == 1 and "recording this one" in said[0]
    with pytest.raises(workdir.ResumeError, match="std: 0.01 when the run started, 0.5 now"):
        workdir.check_run_config(str(tmp_path), {"std": 0.5})
    (tmp_path / "config.json").write_text("[1, 2]")
    with pytest.raises(workdir.ResumeError, match="config.json: not a run configuration"):
        workdir.check_run_config(str(tmp_path), {"std": 0.01})


def lines(*records):
    return "".join(json.dumps(r) + "\n" for r in records)


def test_a_torn_last_line_is_dropped_with_a_warning_and_rewritten(tmp_path, caplog):
    path = tmp_path / "metrics.jsonl"
    path.write_text(lines({"step": 0}, {"step": 1}) + '{"step": 2, "meta_lo')  # a crash in the middle of an append
    with caplog.at_level(logging.WARNING):
        assert workdir.read_metrics(str(path)) == [{"step": 0}, {"step": 1}]
    assert "dropped a torn last line" in caplog.text and str(path) in caplog.text
    said = []
    assert workdir.truncate_metrics(str(path), 5, said.append) == [{"step": 0}, {"step": 1}]
    assert len(said) == 1 and "dropped a torn last line" in said[0]
    assert path.read_text() == lines({"step": 0}, {"step": 1})
    # A last record whose newline alone is missing is whole, and kept.
    path.write_text(lines({"step": 0}) + '{"step": 1}')
    assert workdir.truncate_metrics(str(path), 5) == [{"step": 0}, {"step": 1}]
    assert workdir.truncate_metrics(str(path), 1) == [{"step": 0}]
    assert path.read_text() == lines({"step": 0})


@pytest.mark.parametrize("text,where,what", [
    (lines({"step": 0}) + "garbage\n" + lines({"step": 2}), 2, "not JSON"),
    (lines({"step": 0}) + '{"step": 1\n', 2, "not JSON"),  # terminated, so not an append cut short
    ("[1, 2]\n" + lines({"step": 1}), 1, "list, expected a JSON object"),
    (lines({"step": 0}) + "\n" + '"text"', 3, "str, expected a JSON object"),
])
def test_other_damage_names_the_file_and_line(tmp_path, text, where, what):
    path = tmp_path / "metrics.jsonl"
    path.write_text(text)
    for read in (workdir.read_metrics, lambda p: workdir.truncate_metrics(p, 0)):
        with pytest.raises(workdir.MetricsError, match=f"^{path}:{where}: {what}"):
            read(str(path))
    assert path.read_text() == text  # nothing rewritten
