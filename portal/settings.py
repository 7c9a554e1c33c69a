"""One settings object, read from the environment (prefix PORTAL_)."""

import json
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_VAR_DIR = REPO_ROOT / "var"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PORTAL_", extra="ignore")

    environment: Literal["development", "production", "test"] = "development"
    # sqlite:///relative/or/absolute/path.sqlite3 or postgresql://user:pass@host:port/db
    database_url: str = f"sqlite:///{DEFAULT_VAR_DIR / 'inzicht.sqlite3'}"
    database_pool_size: int = Field(default=10, ge=1, le=200)
    # Unset: background jobs run in-process on a timer (the embedded default).
    redis_url: str | None = None
    # Longest a background job may run (arq). A killed worker's job runs again this + 10 seconds later.
    job_timeout: int = Field(default=600, ge=1)
    secret_key: SecretStr | None = None
    # Key for the BSN pseudonyms. It never enters the database; losing it breaks re-report detection.
    pseudonym_key: SecretStr | None = None
    # After key rotations (`portal rotate-pseudonym-key`): the earlier keys, oldest first, comma-separated. A BSN
    # is pseudonymised through the whole chain (portal.lib.pseudonym); none of them is stored in the database.
    pseudonym_previous_keys: SecretStr | None = None
    var_dir: Path = DEFAULT_VAR_DIR
    # Login attempts per client address per minute (the per-account lock-out comes on top).
    login_attempts_per_minute: int = Field(default=30, ge=1)
    # JSON API requests per person (API key or session) per minute; more answer 429 with RateLimit headers.
    api_requests_per_minute: int = Field(default=600, ge=1)
    host: str = "127.0.0.1"
    port: int = 8000
    # Outgoing mail (the daily digests). Unset host or sender: digests are only stored and shown in the portal.
    smtp_host: str | None = None
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    mail_from: str | None = None

    @model_validator(mode="after")
    def _secrets_present(self) -> "Settings":
        if self.secret_key and self.pseudonym_key:
            return self
        if self.environment == "production":
            raise ValueError("PORTAL_SECRET_KEY en PORTAL_PSEUDONYM_KEY zijn verplicht in productie.")
        # Development and tests: keys are generated once and kept in a file outside the database.
        keys = _local_keys(self.var_dir)
        self.secret_key = self.secret_key or SecretStr(keys["secret_key"])
        if self.pseudonym_key is None:
            self.pseudonym_key = SecretStr(keys["pseudonym_key"])
            if keys.get("pseudonym_previous_keys") and self.pseudonym_previous_keys is None:
                self.pseudonym_previous_keys = SecretStr(",".join(keys["pseudonym_previous_keys"]))
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def smtp_configured(self) -> bool:
        return bool(self.smtp_host and self.mail_from)

    @property
    def sqlite_path(self) -> Path:
        return Path(self.database_url.removeprefix("sqlite:///"))

    @property
    def pseudonym_key_bytes(self) -> bytes:
        assert self.pseudonym_key is not None
        return self.pseudonym_key.get_secret_value().encode()

    @property
    def pseudonym_keys(self) -> tuple[bytes, ...]:
        """The whole key chain of the pseudonyms, oldest first, the current key last."""
        previous = self.pseudonym_previous_keys.get_secret_value() if self.pseudonym_previous_keys else ""
        return (*(key.strip().encode() for key in previous.split(",") if key.strip()), self.pseudonym_key_bytes)


def _local_keys(var_dir: Path) -> dict[str, str]:
    path = var_dir / "dev-keys.json"
    if path.exists():
        return json.loads(path.read_text())
    var_dir.mkdir(parents=True, exist_ok=True)
    keys = {"secret_key": secrets.token_urlsafe(48), "pseudonym_key": secrets.token_urlsafe(48)}
    path.write_text(json.dumps(keys))
    path.chmod(0o600)
    return keys


@lru_cache
def get_settings() -> Settings:
    return Settings()
