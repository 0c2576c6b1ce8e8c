import numpy as np

from lopt_tasks.families.language import sample_text_data


def test_sampled_text_data_stays_in_its_ranges():
    rng = np.random.default_rng(0)
    draws = [sample_text_data(rng, ("licenses",), (4, 32), (4, 64)) for _ in range(200)]
    assert all(4 <= d.batch_size < 32 and 4 <= d.sequence_length < 64 for d in draws)
    assert len({d.sequence_length for d in draws}) > 20
