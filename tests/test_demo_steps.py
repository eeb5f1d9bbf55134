"""The demo as steps over a typed state: a stopped demo continues at the step that did not finish."""

import types

import cv2
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
    with pytest.raises(TypeError, match="sngan_balanced_classes"):
        demo.demo_config("smoke", sngan_balanced_classes="yes")


@pytest.mark.parametrize("balanced", [False, True])
def test_sngan_step_trains_on_class_balanced_batches_when_asked(tmp_path, monkeypatch, balanced):
    from ganaug import training

    seen = {}
    monkeypatch.setattr(training, "train_gan", lambda family, data, **kwargs: seen.update(reader=data) or {})
    monkeypatch.setattr(demo, "_class_samples", lambda *args: "samples.png")
    config = demo.demo_config("smoke", sngan_balanced_classes=balanced)
    config["seed"] = 0
    state = demo.DemoState(config=config, out_dir=str(tmp_path), verbose=0)
    paths = [str(tmp_path / f"{k}.png") for k in range(24)]
    for path in paths:
        cv2.imwrite(path, np.zeros((16, 16, 3), np.uint8))
    split = types.SimpleNamespace(train_paths=paths, train_labels=[0] * 20 + [1] * 4)
    state.results["data"] = {"split": split, "class_names": ["a", "b"]}
    demo.train_sngan(state)
    assert seen["reader"].balanced is balanced


def test_demo_cli_passes_the_sngan_settings(monkeypatch):
    from ganaug.cli import main

    received = {}
    monkeypatch.setattr(demo, "run_demo", lambda out_dir, **kwargs: received.update(kwargs))
    assert main(["demo", "--preset", "smoke", "--sngan-steps", "7", "--sngan-balanced-classes"]) == 0
    assert received["sngan_steps"] == 7 and received["sngan_balanced_classes"] is True
    main(["demo", "--preset", "smoke"])
    assert received["sngan_balanced_classes"] is None  # the preset's setting (natural batches) stays
