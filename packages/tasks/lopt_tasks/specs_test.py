import dataclasses

import jax
import pytest

from lopt_tasks import get_family, get_task
from lopt_tasks.specs import TaskSpecError, task_from_spec


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
