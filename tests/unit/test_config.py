"""The one settings object: defaults, environment, config file, flags."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from processor.config import load_settings
from processor.domain.model import Channel
from processor.domain.settings import Check
from processor.policy_io.build import build_policy


def test_defaults_are_the_bulletin() -> None:
    settings = load_settings()
    assert settings.correction_window_days == 731  # the current and the previous year
    assert settings.plan_years == (2024, 2025, 2026)
    assert Channel.INTERNAL_TELESALES in settings.protected_channels
    assert settings.eligibility_checks == frozenset(Check)


def test_precedence_flag_over_env_over_file(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "aor.toml"
    config.write_text('correction_window_days = 100\npolicy_name = "from-file"\n'
                      'protected_channels = ["INTERNAL_TELESALES"]\n')
    monkeypatch.setenv("AOR_CORRECTION_WINDOW_DAYS", "200")
    settings = load_settings(config_file=config)
    assert settings.correction_window_days == 200
    assert settings.policy_name == "from-file"
    assert settings.protected_channels == frozenset({Channel.INTERNAL_TELESALES})
    assert load_settings(config_file=config, correction_window_days=300) \
        .correction_window_days == 300


def test_comma_separated_lists_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AOR_ELIGIBILITY_CHECKS", "ACTIVE, LICENSED")
    assert load_settings().eligibility_checks == frozenset({Check.ACTIVE, Check.LICENSED})


def test_settings_change_the_policy_version() -> None:
    default = build_policy(load_settings()).policy_version
    assert default.startswith("aor-retention+")
    assert build_policy(load_settings()).policy_version == default
    changed = build_policy(load_settings(facilitator_takes_aor=False)).policy_version
    assert changed != default


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"correction_window_days": -1}, id="negative-window"),
        pytest.param({"protected_channels": "AGENT_APPLICATION_TYPO"}, id="unknown-channel"),
        pytest.param({"unknown_setting": 1}, id="unknown-setting"),
    ],
)
def test_bad_settings_are_refused(overrides: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        load_settings(None, **overrides)


def test_external_channel_cannot_be_protected() -> None:
    with pytest.raises(ValueError, match="only internal channels can be protected"):
        build_policy(load_settings(protected_channels="AGENT_APPLICATION"))


def test_missing_config_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="does not exist"):
        load_settings(config_file=tmp_path / "nope.toml")


def test_kafka_extra_values_never_show_in_the_settings_repr(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AOR_KAFKA_EXTRA", '{"sasl.password": "s3cr3t-value"}')
    settings = load_settings()
    assert "s3cr3t-value" not in repr(settings)
    assert "s3cr3t-value" not in str(settings.model_dump())
    from processor.kafka.clients import client_config
    assert client_config(settings)["sasl.password"] == "s3cr3t-value"
