import numpy as np
import lopt_tasks as lt

from lopt_es.data import Cursor, data_seed, gather_batches, new_cursor


def test_batches_follow_each_slots_run_and_position():
    source = lt.ArrayDataset({"x": np.arange(100)}, batch_size=2, name="toy")
    cursor = Cursor(run=np.asarray([0, 0, 1]), inner_step=np.asarray([0, 5, 0]), length=np.asarray([10, 10, 10]))
    batches = gather_batches(source, 7, cursor, 3)
    assert batches["x"].shape == (3, 3, 2)
    for slot in range(3):
        seed = data_seed(7, slot, int(cursor.run[slot]))
        for t in range(3):
            np.testing.assert_array_equal(batches["x"][t, slot], source.batch(int(cursor.inner_step[slot]) + t, seed)["x"])
    # Slots of a meta-batch split over processes read the same streams.
    tail = gather_batches(source, 7, Cursor(*(np.asarray(x[2:]) for x in cursor)), 3, first_slot=2)
    np.testing.assert_array_equal(tail["x"][:, 0], batches["x"][:, 2])


def test_seeds_differ_by_slot_and_run_and_cursor_starts_unstarted():
    seeds = {data_seed(0, s, r) for s in range(5) for r in range(5)}
    assert len(seeds) == 25 and all(0 <= s < 2**31 for s in seeds)
    assert new_cursor(3).run.tolist() == [-1, -1, -1]
