import uuid

from highway_sim.dice import Dice


def test_same_seed_same_draws():
    a, b = Dice(3), Dice(3)
    assert [a.uniform(0, 1) for _ in range(5)] == [b.uniform(0, 1) for _ in range(5)]
    assert a.task_id() == b.task_id()


def test_reseed_restarts_the_sequence():
    dice = Dice(5)
    first = [dice.randint(0, 100) for _ in range(5)]
    dice.reseed(5)
    assert [dice.randint(0, 100) for _ in range(5)] == first


def test_chance_extremes_are_exact():
    dice = Dice(1)
    assert not any(dice.chance(0.0) for _ in range(100))
    assert all(dice.chance(1.0) for _ in range(100))
    hits = sum(dice.chance(0.5) for _ in range(2000))
    assert 800 < hits < 1200


def test_task_id_is_uuid4_hex():
    task_id = Dice(None).task_id()
    assert len(task_id) == 32
    assert uuid.UUID(hex=task_id).version == 4
