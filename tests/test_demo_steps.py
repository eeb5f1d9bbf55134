"""The demo as steps over a typed state: a stopped demo continues at the step that did not finish."""

import numpy as np
import pytest

from ganaug import demo


class _Crash(RuntimeError):
    pass


def _fake_steps(calls, crash_at=None):
    """Three steps that depend on each other, count their calls and draw seeded numbers."""

    def first(state):
        calls.append("first")
        return {"values": np.random.default_rng(state.seed).normal(size=3)}

    def second(state):
        calls.append("second")
        if crash_at == "second":
            raise _Crash("killed in step 2")
        return {"total": float(state.results["first"]["values"].sum())}

    def third(state):
        calls.append("third")
        return {"double": 2 * state.results["second"]["total"]}

    return (("first", first), ("second", second), ("third", third))


@pytest.fixture
def no_report(monkeypatch):
    monkeypatch.setattr(demo, "_finish", lambda state: dict(state.results))


def test_stopped_demo_resumes_at_the_unfinished_step_with_the_same_results(tmp_path, monkeypatch, no_report):
    calls = []
    monkeypatch.setattr(demo, "STEPS", _fake_steps(calls))
    uninterrupted = demo.run_demo(tmp_path / "a", preset="smoke", verbose=0)
    assert calls == ["first", "second", "third"]

    calls.clear()
    monkeypatch.setattr(demo, "STEPS", _fake_steps(calls, crash_at="second"))
    with pytest.raises(_Crash):
        demo.run_demo(tmp_path / "b", preset="smoke", verbose=0)
    assert calls == ["first", "second"]
    calls.clear()
    monkeypatch.setattr(demo, "STEPS", _fake_steps(calls))
    resumed = demo.run_demo(tmp_path / "b", preset="smoke", verbose=0)
    assert calls == ["second", "third"]  # the finished step is not run again
    np.testing.assert_array_equal(resumed["first"]["values"], uninterrupted["first"]["values"])
    assert resumed["third"] == uninterrupted["third"]


def test_other_settings_or_restart_run_every_step_again(tmp_path, monkeypatch, no_report):
    calls = []
    monkeypatch.setattr(demo, "STEPS", _fake_steps(calls))
    demo.run_demo(tmp_path, preset="smoke", verbose=0)
    calls.clear()
    demo.run_demo(tmp_path, preset="smoke", verbose=0)
    assert calls == []
    demo.run_demo(tmp_path, preset="smoke", verbose=0, seeds=(3, 4))
    assert calls == ["first", "second", "third"]
    calls.clear()
    demo.run_demo(tmp_path, preset="smoke", verbose=0, seeds=(3, 4), restart=True)
    assert calls == ["first", "second", "third"]


def test_unknown_demo_setting_is_refused():
    with pytest.raises(ValueError, match="Received: sngan_step=3"):
        demo.demo_config("smoke", sngan_step=3)
