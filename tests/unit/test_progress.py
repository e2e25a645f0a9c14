"""Which progress messages reach the client: fine steps are throttled, no phase is ever lost."""

from hypothesis import given, strategies as st

from motionscore.shared.progress import ProgressThrottle, stage_phase


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_stage_phase_drops_counters_only():
    assert stage_phase("stretching 3/7") == "stretching"
    assert stage_phase("window 2/5: diffusion step 10/50") == "window diffusion step"
    assert stage_phase("tracking the song's beats") == "tracking the song's beats"


def test_fast_steps_are_thinned_but_every_phase_and_the_end_get_through():
    clock = FakeClock()
    throttle = ProgressThrottle(0.1, clock)
    sent = [stage for fraction, stage in [(0.0, "starting"), (0.1, "tracking"), (0.2, "stretching 1/3"),
                                          (0.3, "stretching 2/3"), (0.4, "stretching 3/3"), (1.0, "done")]
            if throttle.should_send(fraction, stage)]
    # All at one instant: the repeated phase's later steps are dropped, nothing else is.
    assert sent == ["starting", "tracking", "stretching 1/3", "done"]
    clock.now += 0.15
    assert throttle.should_send(0.5, "stretching 2/3")
    assert not throttle.should_send(0.6, "stretching 3/3")


@given(st.lists(st.tuples(st.floats(0.0, 0.3), st.sampled_from(["a 1/2", "a 2/2", "b", "c 1/9", "c 5/9"]),
                          st.floats(0.0, 1.0)), min_size=1, max_size=40))
def test_every_phase_change_is_sent_and_sends_are_spaced_within_a_phase(steps):
    clock = FakeClock()
    throttle = ProgressThrottle(0.1, clock)
    last_sent_at, last_phase = None, None
    for dt, stage, fraction in steps:
        clock.now += dt
        sent = throttle.should_send(fraction, stage)
        if stage_phase(stage) != last_phase or fraction >= 1.0:
            assert sent
        if sent:
            if stage_phase(stage) == last_phase and fraction < 1.0:
                assert clock.now - last_sent_at >= 0.1
            last_sent_at, last_phase = clock.now, stage_phase(stage)
