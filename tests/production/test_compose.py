"""compose.yaml, checked structurally (no container engine runs here): the production shape it describes is
the one the other tests in this folder prove with real processes."""

import re
from pathlib import Path

import yaml

from portal.settings import Settings

REPO = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((REPO / "compose.yaml").read_text())
SERVICES = COMPOSE["services"]


def _command(service: str) -> list[str]:
    return SERVICES[service]["command"]


def test_the_shape_is_postgres_redis_a_migration_two_portals_and_two_workers():
    assert set(SERVICES) == {"postgres", "redis", "migrate", "portal", "worker"}
    assert _command("migrate") == ["portal", "migrate"]
    assert _command("portal")[:2] == ["portal", "serve"] and "0.0.0.0" in _command("portal")  # noqa: S104
    assert _command("worker") == ["portal", "worker"]
    assert SERVICES["portal"]["deploy"]["replicas"] == 2
    assert SERVICES["worker"]["deploy"]["replicas"] == 2
    # one published port per portal replica; Redis and PostgreSQL are not published at all
    low, high = re.fullmatch(r"(\d+)-(\d+):8000", SERVICES["portal"]["ports"][0]).groups()
    assert int(high) - int(low) + 1 == SERVICES["portal"]["deploy"]["replicas"]
    assert "ports" not in SERVICES["redis"] and "ports" not in SERVICES["postgres"]


def test_start_order_waits_for_healthy_services_and_a_finished_migration():
    for name in ("postgres", "redis"):
        assert SERVICES[name]["healthcheck"]["test"][0] == "CMD"
    assert SERVICES["migrate"]["restart"] == "no"
    assert SERVICES["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    for name in ("portal", "worker"):
        assert SERVICES[name]["depends_on"] == {
            "postgres": {"condition": "service_healthy"},
            "redis": {"condition": "service_healthy"},
            "migrate": {"condition": "service_completed_successfully"},
        }
        assert SERVICES[name]["restart"] == "unless-stopped"
    assert "/health/live" in " ".join(SERVICES["portal"]["healthcheck"]["test"])


def test_every_process_gets_the_same_production_settings_and_no_secret_is_written_down():
    known = {f"PORTAL_{name.upper()}" for name in Settings.model_fields}
    environments = {name: SERVICES[name]["environment"] for name in ("migrate", "portal", "worker")}
    for name, environment in environments.items():
        assert set(environment) <= known, f"{name}: unknown settings {set(environment) - known}"
        assert environment["PORTAL_ENVIRONMENT"] == "production"
        assert environment["PORTAL_DATABASE_URL"].startswith("postgresql://") and "@postgres:5432/" in \
            environment["PORTAL_DATABASE_URL"]
        assert environment["PORTAL_REDIS_URL"] == "redis://redis:6379/0"
        for secret in ("PORTAL_SECRET_KEY", "PORTAL_PSEUDONYM_KEY"):
            assert re.fullmatch(r"\$\{" + secret + r":\?.+\}", environment[secret]), f"{name}: {secret} hardcoded"
        # Settings accept what compose passes (the secrets filled in)
        values = {key.removeprefix("PORTAL_").lower(): value for key, value in environment.items()
                  if "KEY" not in key}
        Settings(**values, secret_key="k" * 40, pseudonym_key="p" * 40)
    # exports: written by a worker, downloaded through a portal process: the same volume on both
    assert SERVICES["portal"]["volumes"] == SERVICES["worker"]["volumes"]
    assert environments["portal"]["PORTAL_VAR_DIR"] in SERVICES["worker"]["volumes"][0]


def test_connection_pools_fit_under_max_connections():
    max_connections = int(_command("postgres")[_command("postgres").index("-c") + 1].split("=")[1])
    portals = SERVICES["portal"]["deploy"]["replicas"] * int(SERVICES["portal"]["environment"]
                                                             ["PORTAL_DATABASE_POOL_SIZE"])
    workers = SERVICES["worker"]["deploy"]["replicas"] * int(SERVICES["worker"]["environment"]
                                                             ["PORTAL_DATABASE_POOL_SIZE"])
    migrate = int(SERVICES["migrate"]["environment"]["PORTAL_DATABASE_POOL_SIZE"])
    assert int(SERVICES["worker"]["environment"]["PORTAL_DATABASE_POOL_SIZE"]) < int(
        SERVICES["portal"]["environment"]["PORTAL_DATABASE_POOL_SIZE"])
    # room left for operators (psql, pg_dump) and for scaling out by at least one more of each
    assert portals + workers + migrate + 10 <= max_connections
    assert (portals + workers) * 3 // 2 + 10 <= max_connections


def test_the_image_runs_the_portal_command():
    dockerfile = (REPO / "Dockerfile").read_text()
    assert "pip install" in dockerfile and "COPY migrations" in dockerfile and "COPY workers" in dockerfile
    assert SERVICES["migrate"]["image"] == SERVICES["portal"]["image"] == SERVICES["worker"]["image"]
