import dataclasses

import jax
import pytest

from lopt_tasks import FAMILIES, TASKS, get_family, get_task
from lopt_tasks.specs import TaskSpecError, spec_of, task_from_spec


def test_fixed_tasks_variants_and_family_samples():
    assert task_from_spec("digits_mlp") == get_task("digits_mlp")
    variant = task_from_spec("digits_mlp:hidden_sizes=32x32x32:batch_size=32")
    assert (variant.hidden_sizes, variant.batch_size, variant.name) == (
        (32, 32, 32), 32, "digits_mlp:hidden_sizes=32x32x32:batch_size=32")
    assert task_from_spec("digits_mlp:hidden_sizes=()").hidden_sizes == ()
    family = get_family("mlp")
    assert task_from_spec("family:mlp:3") == family.task(family.sample(jax.random.PRNGKey(3)))


def test_data_dir_reaches_tasks_that_read_datasets():
    assert task_from_spec("fashion_mnist_mlp", data_dir="/data").data_dir == "/data"
    assert dataclasses.replace(task_from_spec("fashion_mnist_mlp:batch_size=8", data_dir="/d")).data_dir == "/d"


@pytest.mark.parametrize("spec, message", [
    ("mnist_cnn", "unknown task 'mnist_cnn'; choices: cifar10_autoencoder"),
    ("family:cnn:1", "unknown task family 'cnn'"),
    ("family:mlp", "sampled tasks are family:<name>:<seed>"),
    ("family:mlp:x", "sampled tasks are family:<name>:<seed>"),
    ("digits_mlp:width=32", "'width=32' is not field=value with a field of digits_mlp: batch_size, dataset"),
    ("digits_mlp:hidden_sizes=32,32", "cannot read hidden_sizes='32,32'"),
    ("digits_mlp:batch_size=0", "cannot read batch_size='0'"),
    ("digits_mlp:name=x", "'name=x' is not field=value"),
    # Checked when the task is built, not when its data is first read deep inside a training run.
    ("digits_mlp:dataset=nope", "task 'digits_mlp:dataset=nope': unknown image dataset 'nope'; known: cifar10, digits"),
    ("digits_mlp:image_size=100", "image_size must be (height, width), two positive integers (HxW in a task spec), "
                                  "got (100,)"),
    ("digits_conv:image_size=4x4x4", "image_size must be (height, width)"),
    ("text_lstm:dataset=nope", "unknown text dataset 'nope'; known: licenses, lm1b"),
])
def test_bad_specs_say_what_is_wrong(spec, message):
    with pytest.raises(TaskSpecError, match=message.replace("(", r"\(").replace(")", r"\)")):
        task_from_spec(spec)


VARIANTS = [
    "digits_mlp:hidden_sizes=32x32",
    "digits_mlp:hidden_sizes=32x32x32:batch_size=32",  # not in field order: the name is kept as written
    "digits_mlp:hidden_sizes=()",
    "digits_mlp:batch_size=128",  # the default, written out
    "digits_conv:channels=8x16:image_size=4x4",
    "cifar10_autoencoder:hidden_sizes=64x16x64",
    "fashion_mnist_mlp:batch_size=8",
    "text_lstm:hidden_size=16:sequence_length=8",
    "lm1b_lstm:embedding_dim=8:dataset=licenses",
]


@pytest.mark.parametrize("spec", sorted(TASKS) + VARIANTS)
def test_spec_of_inverts_task_from_spec(spec):
    task = task_from_spec(spec)
    assert spec_of(task) == spec
    assert task_from_spec(spec_of(task)) == task
    assert spec_of(task_from_spec(spec, data_dir="/data")) == spec


@pytest.mark.parametrize("task, spec", [
    (get_task("digits_mlp", batch_size=32, hidden_sizes=(32, 32)), "digits_mlp:batch_size=32:hidden_sizes=32x32"),
    (get_task("digits_conv", channels=()), "digits_conv:channels=()"),
    (get_task("text_lstm", sequence_length=8, dataset="lm1b"), "text_lstm:dataset=lm1b:sequence_length=8"),
    (get_task("fashion_mnist_mlp", data_dir="/data"), "fashion_mnist_mlp"),
    # A variant changed in code after it was built: its name is no longer its spec.
    (dataclasses.replace(task_from_spec("digits_mlp:batch_size=8"), batch_size=16), "digits_mlp:batch_size=16"),
])
def test_tasks_changed_in_code_are_named_by_the_fields_that_differ(task, spec):
    assert spec_of(task) == spec
    rebuilt = task_from_spec(spec, data_dir=task.data_dir)
    assert rebuilt == dataclasses.replace(task, name=spec)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_family_samples_are_named_only_by_the_spec_they_were_built_from(family):
    # family:<name>:<seed> is the only name of a sample: the same spec gives the same task, another seed another one.
    sample = task_from_spec(f"family:{family}:3")
    assert sample == task_from_spec(f"family:{family}:3")
    assert sample != task_from_spec(f"family:{family}:4")
    with pytest.raises(TaskSpecError, match="does not record its seed: name it by the family:<name>:<seed>"):
        spec_of(sample)


@pytest.mark.parametrize("task, message", [
    (dataclasses.replace(get_task("digits_mlp"), name="mine"), "task 'mine' \\(ImageMLP\\) is not a fixed task"),
    (dataclasses.replace(get_task("digits_mlp"), batch_size=0),
     "task 'digits_mlp' \\(ImageMLP\\): no spec names it; 'digits_mlp:batch_size=0' does not build it"),
    (get_task("digits_mlp", hidden_sizes=[32]), "no spec names it; 'digits_mlp:hidden_sizes=\\[32\\]' does not"),
])
def test_tasks_no_spec_names_say_why(task, message):
    with pytest.raises(TaskSpecError, match=message):
        spec_of(task)
