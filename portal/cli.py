"""The `portal` command: migrate, demo, serve, worker, generate."""

import asyncio
import sys
import time

import click

from portal.settings import get_settings


def _run(coroutine):
    return asyncio.run(coroutine)


async def _with_pool(coroutine_function, *args, **kwargs):
    from portal.db import close_pool, start_pool

    settings = get_settings()
    await start_pool(settings)
    try:
        return await coroutine_function(*args, **kwargs)
    finally:
        await close_pool()


@click.group()
def main() -> None:
    """Inzicht: toezicht op taakgerichte contracten Wmo en Jeugd."""


@main.command()
def migrate() -> None:
    """Bring the database schema up to date."""
    from portal.migrate import migrate as run_migrations

    _run(_with_pool(run_migrations))
    click.echo(f"Database bijgewerkt: {_describe_database()}")


@main.command()
@click.option("--scenario", default="haarlem", show_default=True, help="Which demo scenario to load.")
@click.option("--cases", default=3000, show_default=True, help="How many cases to generate.")
@click.option("--seed", default=2026, show_default=True, help="Random seed: the same seed gives the same data.")
@click.option("--reset/--keep", default=False, help="Empty the database first.")
@click.option("--serve/--no-serve", default=True, help="Start the web server after loading.")
def demo(scenario: str, cases: int, seed: int, reset: bool, serve: bool) -> None:
    """Migrate, load realistic demo data (once), and serve on http://127.0.0.1:8000."""
    from portal.demo.generator import load_demo
    from portal.migrate import migrate as run_migrations

    started = time.perf_counter()

    async def prepare():
        await run_migrations()
        return await load_demo(scenario=scenario, cases=cases, seed=seed, reset=reset)

    summary = _run(_with_pool(prepare))
    elapsed = time.perf_counter() - started
    if summary.loaded:
        click.echo(f"Demodata '{summary.scenario}' geladen in {elapsed:.1f} s: {summary.describe()}")
    else:
        click.echo(f"Demodata was al geladen ({summary.describe()}); gebruik --reset om opnieuw te beginnen.")
    click.echo("")
    click.echo("Inloggen kan met deze demo-accounts (wachtwoord voor allemaal: " + summary.password + "):")
    for email, description in summary.logins:
        click.echo(f"  {email:<42} {description}")
    if serve:
        settings = get_settings()
        click.echo(f"\nInzicht draait op http://{settings.host}:{settings.port}  (stoppen: Ctrl+C)")
        _serve(settings.host, settings.port)


@main.command()
@click.option("--host", default=None, help="Interface to listen on (default PORTAL_HOST).")
@click.option("--port", default=None, type=int, help="Port (default PORTAL_PORT).")
@click.option("--workers", default=1, show_default=True, help="Number of processes.")
def serve(host: str | None, port: int | None, workers: int) -> None:
    """Serve the portal (uvicorn)."""
    settings = get_settings()
    _serve(host or settings.host, port or settings.port, workers=workers)


@main.command()
def worker() -> None:
    """Run the arq worker (needs PORTAL_REDIS_URL)."""
    settings = get_settings()
    if not settings.redis_url:
        raise click.ClickException("PORTAL_REDIS_URL is niet gezet: zonder Redis draaien taken in het portaalproces.")
    from arq import run_worker

    from workers.settings import WorkerSettings

    run_worker(WorkerSettings)


@main.command()
@click.option("--scenario", default="haarlem", show_default=True)
@click.option("--cases", default=3000, show_default=True)
@click.option("--seed", default=2026, show_default=True)
def generate(scenario: str, cases: int, seed: int) -> None:
    """Generate a scenario's data into the database (always adds; use `demo --reset` to start over)."""
    from portal.demo.generator import load_demo

    summary = _run(_with_pool(load_demo, scenario=scenario, cases=cases, seed=seed, reset=False, force=True))
    click.echo(summary.describe())


def _serve(host: str, port: int, workers: int = 1) -> None:
    import uvicorn

    uvicorn.run("portal.asgi:app", host=host, port=port, workers=workers, proxy_headers=True, log_level="info")


def _describe_database() -> str:
    settings = get_settings()
    return str(settings.sqlite_path) if settings.is_sqlite else settings.database_url.split("@")[-1]


if __name__ == "__main__":
    sys.exit(main())
