"""The one settings object: AOR_ environment variables, an optional TOML file, CLI flags.

Precedence (highest first): CLI flags, environment, config file, defaults.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from processor.domain.model import INTERNAL_CHANNELS, Channel
from processor.domain.settings import ALL_CHECKS, Check


class Settings(BaseSettings):
    """Every knob of the processor. Frozen: built once by the composition root."""

    model_config = SettingsConfigDict(env_prefix="AOR_", frozen=True, extra="forbid")

    # Policy settings (policy.md "Policy settings").
    policy_name: str = Field("aor-retention", description="readable part of policy_version")
    protected_channels: Annotated[frozenset[Channel], NoDecode] = Field(
        INTERNAL_CHANNELS, description="internal channels whose plan changes keep the AOR")
    eligibility_checks: Annotated[frozenset[Check], NoDecode] = Field(
        frozenset(ALL_CHECKS), description="eligibility checks that apply")
    facilitator_takes_aor: bool = Field(
        True, description="an eligible external facilitator takes the AOR")
    correction_window_days: int = Field(400, ge=0, description="how far back corrections reach")
    schedule_file: Path | None = Field(
        None, description="CSV rate schedule replacing the CMS fair-market-value caps")
    plan_years: Annotated[tuple[int, ...], NoDecode] = Field(
        (2024, 2025, 2026), description="plan years the schedule must cover at start-up")

    @field_validator("protected_channels", "eligibility_checks", "plan_years", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        # Environment variables and flags may give "A,B,C" rather than JSON.
        if isinstance(value, str):
            if value.lstrip().startswith("["):
                return json.loads(value)
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = _CONFIG_FILE.get("path")
        if config_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=config_file))
        return tuple(sources)


# Set only by `load_settings` for the duration of one construction.
_CONFIG_FILE: dict[str, Path | None] = {"path": None}


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build the settings; `overrides` are CLI flags that were given (None values dropped)."""
    if config_file is not None and not config_file.is_file():
        raise ValueError(f"config file {config_file} does not exist")
    given = {k: v for k, v in overrides.items() if v is not None}
    _CONFIG_FILE["path"] = config_file
    try:
        return Settings(**given)
    finally:
        _CONFIG_FILE["path"] = None
