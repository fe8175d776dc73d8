"""Settings shared by every service, read from the environment (pydantic-settings).

Each service subclasses `ServiceSettings` with its own prefix (`ACTIVITY_`, `SCORING_`,
`GOALS_`); `DATABASE_URL` and the JWT secret are common to all.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.oidc import OidcIssuer

REPO_ROOT = Path(__file__).resolve().parent.parent


class CommonSettings(BaseSettings):
    """Settings every process of salesperf reads."""

    model_config = SettingsConfigDict(
        env_prefix="SALESPERF_", extra="ignore", populate_by_name=True
    )

    database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("DATABASE_URL", "SALESPERF_DATABASE_URL"),
        description="Postgres URL; unset means the embedded pgserver under data_dir/pg.",
    )
    # Fixed names, so every service's settings (whatever its prefix) read the same variables.
    data_dir: Path = Field(
        default=REPO_ROOT / ".data",
        validation_alias="SALESPERF_DATA_DIR",
        description="Embedded Postgres and development secrets.",
    )
    jwt_secret: SecretStr | None = Field(
        default=None,
        validation_alias="SALESPERF_JWT_SECRET",
        description="HS256 secret; unset means a random one kept in data_dir/jwt_secret.",
    )
    jwt_keys: dict[str, SecretStr] = Field(
        default_factory=dict,
        validation_alias="SALESPERF_JWT_KEYS",
        description='Rotatable HS256 keys by `kid` (JSON: {"2026-07": "…", "2026-10": "…"}); '
        "a token whose header names a `kid` is verified with that key.",
    )
    jwt_kid: str | None = Field(
        default=None,
        validation_alias="SALESPERF_JWT_KID",
        description="The key of `jwt_keys` every token salesperf mints is signed with (its own "
        "service tokens, `salesperf token`, the CLIs); unset: the secret, without a `kid`.",
    )
    cursor_keys: list[SecretStr] = Field(
        default_factory=list,
        validation_alias="SALESPERF_CURSOR_KEYS",
        description='Keys of the sealed cursors (JSON: ["new…", "old…"]): the first seals, every '
        "one opens; empty: the JWT secret (shared/pagination.py).",
    )
    oidc_issuers: list[OidcIssuer] = Field(
        default_factory=list,
        validation_alias="SALESPERF_OIDC_ISSUERS",
        description="Trusted OpenID Connect issuers (JSON list; see shared/oidc.py).",
    )
    log_level: str = Field(default="INFO", validation_alias="SALESPERF_LOG_LEVEL")
    log_json: bool = Field(default=False, validation_alias="SALESPERF_LOG_JSON")

    @model_validator(mode="after")
    def _check_keys_and_issuers(self) -> CommonSettings:
        for kid, key in self.jwt_keys.items():
            if not kid or len(key.get_secret_value()) < 32:
                raise ValueError("SALESPERF_JWT_KEYS: each key needs a `kid` and 32+ characters")
        if any(len(key.get_secret_value()) < 32 for key in self.cursor_keys):
            raise ValueError("SALESPERF_CURSOR_KEYS: each key needs 32+ characters")
        if self.jwt_kid is not None and self.jwt_kid not in self.jwt_keys:
            raise ValueError(f"SALESPERF_JWT_KID {self.jwt_kid!r} is not in SALESPERF_JWT_KEYS")
        issuers = [i.issuer for i in self.oidc_issuers]
        if len(set(issuers)) != len(issuers):
            raise ValueError("SALESPERF_OIDC_ISSUERS names an issuer twice")
        return self

    def resolved_jwt_secret(self) -> str:
        """The configured secret, or the development one created once under `data_dir`."""
        if self.jwt_secret is not None:
            return self.jwt_secret.get_secret_value()
        path = self.data_dir / "jwt_secret"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".jwt_secret.{secrets.token_hex(4)}")
            tmp.write_text(secrets.token_urlsafe(48))
            tmp.chmod(0o600)
            try:  # link, not rename: the first process to create the secret wins
                os.link(tmp, path)
            except FileExistsError:
                pass
            finally:
                tmp.unlink()
        return path.read_text().strip()


class ServiceSettings(CommonSettings):
    """Base for one service's settings: where it listens."""

    host: str = "127.0.0.1"
    port: int = 8000
