from highway_sim.ratelimit import SlidingWindowLimiter


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_admits_limit_then_refuses_until_the_window_slides():
    clock = FakeClock()
    limiter = SlidingWindowLimiter(clock)
    assert all(limiter.allow(3, 60) for _ in range(3))
    assert not limiter.allow(3, 60)
    clock.now += 30
    assert not limiter.allow(3, 60)
    clock.now += 30.001  # the first three are now older than the window
    assert limiter.allow(3, 60)


def test_refused_requests_do_not_extend_the_window():
    clock = FakeClock()
    limiter = SlidingWindowLimiter(clock)
    assert limiter.allow(1, 10)
    for _ in range(5):
        clock.now += 1
        assert not limiter.allow(1, 10)
    clock.now += 5
    assert limiter.allow(1, 10)


def test_reset_forgets_the_window():
    limiter = SlidingWindowLimiter(FakeClock())
    assert limiter.allow(1, 60)
    assert not limiter.allow(1, 60)
    limiter.reset()
    assert limiter.allow(1, 60)
