import pytest

from lopt_eval import suites


def test_heldout_suite_spans_what_the_protocol_asks():
    heldout = suites.get_suite("heldout-v1")
    assert heldout.num_steps == 1000 and len(heldout.tasks) >= 12 and len(set(heldout.tasks)) == len(heldout.tasks)
    long = suites.get_suite("heldout-v1-long")
    assert long.num_steps == 5000 and set(long.tasks) <= set(heldout.tasks)
    assert 2 * len(long.tasks) >= len(heldout.tasks)
    kinds = " ".join(heldout.tasks)
    for needed in ("conv", "autoencoder", "vae", "transformer_lm", "rnn_lm", "batch_size=32", "batch_size=512"):
        assert needed in kinds, needed


def test_validation_shares_no_task_or_family_with_the_heldout_suite():
    heldout, validation = suites.get_suite("heldout-v1"), suites.get_suite("validation-v1")
    assert not suites.families_of(heldout.tasks) & suites.families_of(validation.tasks)
    suites.check_disjoint(validation.tasks, heldout)
    # Tiny 8x8-digit MLPs (the meta-training distribution) are other tasks than the held-out MLPs.
    suites.check_disjoint(["digits_mlp:hidden_sizes=32:batch_size=64"], heldout)
    with pytest.raises(ValueError, match="shares family:vae"):
        suites.check_disjoint(["family:vae:7"], heldout)
    with pytest.raises(ValueError, match="shares digits_autoencoder"):
        suites.check_disjoint(["digits_autoencoder"], heldout)


def test_every_task_resolves_and_unknown_suites_are_named():
    for name in suites.SUITES:
        tasks = suites.resolve(suites.get_suite(name))
        assert all(task is not None for task in tasks.values())
    with pytest.raises(KeyError, match="unknown suite 'heldout'; known: heldout-v1"):
        suites.get_suite("heldout")


def test_unrolled_tasks_are_suite_tasks_and_baseline_multiples_fit_the_purpose():
    for suite in suites.SUITES.values():
        for spec, unroll in suite.scan_unroll:
            assert spec in suite.tasks and unroll >= 1, (suite.name, spec)
    # Held-out suites measure speedups (the sweep runs past the horizon); selection needs final losses only.
    assert suites.get_suite("heldout-v1").baseline_multiple >= 2
    assert suites.get_suite("validation-v1").baseline_multiple == 1
