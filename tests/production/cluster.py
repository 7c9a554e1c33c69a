"""A private production shape for the fault tests: our own PostgreSQL cluster and Redis server (never the
shared ones on 5432 and 6379, which other test runs use), and real `portal serve` and `portal worker`
processes on them. Everything here can be stopped, killed and started again by the tests."""
# Every subprocess here runs a fixed binary (PostgreSQL's, redis-server, our `portal`) with our arguments.
# ruff: noqa: S603

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]
PORTAL = str(Path(sys.executable).with_name("portal"))
SECRET_KEY = "production-test-secret-" + "s" * 32
PSEUDONYM_KEY = "production-test-pseudonym-" + "p" * 32


class StartFailed(RuntimeError):
    """A piece of the private cluster did not come up: the tests fail (they never skip)."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def wait_until(check, timeout: float, what: str, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(interval)
    raise StartFailed(f"timed out after {timeout:.0f} s waiting for {what}")


def _postgres_bin() -> Path:
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), reverse=True)
    if not candidates:
        found = shutil.which("initdb")
        if not found:
            raise StartFailed("initdb not found (install the PostgreSQL server package)")
        return Path(found).parent
    return candidates[0].parent


class PrivatePostgres:
    """A throw-away PostgreSQL cluster in a temporary directory on a free port (trust auth, no fsync)."""

    def __init__(self, root: Path) -> None:
        self.bin = _postgres_bin()
        self.root = root
        self.data = root / "pgdata"
        self.socket_dir = root / "pgsock"
        self.port = free_port()
        self.as_root = os.geteuid() == 0

    def _run(self, *args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
        command = list(args)
        if self.as_root:  # initdb and postgres refuse to run as root
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, capture_output=True, text=True, check=check, timeout=timeout)

    def url(self, database: str = "inzicht") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def init(self) -> None:
        self.socket_dir.mkdir(parents=True)
        if self.as_root:
            shutil.chown(self.root, "postgres")
            shutil.chown(self.socket_dir, "postgres")
        try:
            self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust",
                      "--no-sync", "-E", "UTF8", "--locale=C")
        except (subprocess.CalledProcessError, OSError) as exc:
            raise StartFailed(f"initdb failed: {getattr(exc, 'stderr', exc)}") from exc
        settings = ["listen_addresses = '127.0.0.1'", f"port = {self.port}",
                    f"unix_socket_directories = '{self.socket_dir}'", "fsync = off", "synchronous_commit = off",
                    "full_page_writes = off", "max_connections = 100", "shared_buffers = 64MB"]
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write("\n".join(settings) + "\n")
        self.start()

    def start(self) -> None:
        result = self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.root / "postgres.log"),
                           "-w", "-t", "30", "start", check=False)
        if result.returncode != 0:
            log = (self.root / "postgres.log").read_text() if (self.root / "postgres.log").exists() else ""
            raise StartFailed(f"pg_ctl start failed: {result.stderr} {log[-2000:]}")
        wait_until(lambda: port_open(self.port), 30, f"PostgreSQL on port {self.port}")

    def restart(self) -> None:
        """Fast restart: every session is terminated, open transactions are rolled back."""
        self.stop("fast")
        self.start()

    def stop(self, mode: str = "fast") -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop", check=False)

    def dump(self, path: Path, database: str = "inzicht") -> None:
        """pg_dump in the custom format (what an operator's nightly backup does)."""
        self._tool("pg_dump", "-Fc", "-f", str(path), database)

    def restore(self, path: Path, database: str) -> None:
        """pg_restore into a new, empty database."""
        self.psql(f'DROP DATABASE IF EXISTS "{database}"', database="postgres")
        self.psql(f'CREATE DATABASE "{database}"', database="postgres")
        self._tool("pg_restore", "-d", database, "--exit-on-error", str(path))

    def _tool(self, name: str, *args: str) -> None:
        subprocess.run([str(self.bin / name), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", *args],
                       check=True, timeout=120, capture_output=True)

    def psql(self, sql: str, database: str = "inzicht") -> str:
        result = self._run(str(self.bin / "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
                           "-d", database, "-v", "ON_ERROR_STOP=1", "-At", "-c", sql, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"psql failed: {result.stderr}")
        return result.stdout.strip()


class PrivateRedis:
    """Our own redis-server on a free port, without persistence: stopping it loses its queue (the worst case)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        self.binary = shutil.which("redis-server")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        if not self.binary:
            raise StartFailed("redis-server not found (install the redis-server package)")
        log = open(self.root / "redis.log", "ab")  # noqa: SIM115 - handed to the child process
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--daemonize", "no", "--dir", str(self.root)], stdout=log, stderr=subprocess.STDOUT)
        wait_until(lambda: port_open(self.port) or self.process.poll() is not None, 15, f"Redis on {self.port}")
        if self.process.poll() is not None:
            raise StartFailed(f"redis-server exited: {(self.root / 'redis.log').read_text()[-2000:]}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.process = None
        wait_until(lambda: not port_open(self.port), 10, "Redis to stop")


class PortalProcess:
    """One `portal serve` or `portal worker` process with its own log file."""

    def __init__(self, name: str, command: list[str], env: dict, root: Path, port: int | None = None) -> None:
        self.name, self.command, self.env, self.root, self.port = name, command, env, root, port
        self.process: subprocess.Popen | None = None
        self.log_path = root / f"{name}.log"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def spawn(self) -> None:
        self._log_mark = self.log_path.stat().st_size if self.log_path.exists() else 0
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child process
        self.process = subprocess.Popen(self.command, env=self.env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                                        start_new_session=True)

    def wait_ready(self) -> None:
        """A server answers /health/live; a worker has logged that it started (since this spawn)."""
        def ready():
            if self.process.poll() is not None:
                raise StartFailed(f"{self.name} exited: {self.log()[-3000:]}")
            if self.port is None:
                return b"Starting worker" in self.log_path.read_bytes()[self._log_mark:]
            try:
                return httpx.get(self.base_url + "/health/live", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False
        wait_until(ready, 90, f"{self.name} to start", interval=0.2)

    def start(self) -> None:
        self.spawn()
        self.wait_ready()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    _log_mark = 0

    @contextlib.contextmanager
    def paused(self):
        """SIGSTOP the process for a moment (it takes no new job), SIGCONT afterwards."""
        os.kill(self.process.pid, signal.SIGSTOP)
        try:
            yield
        finally:
            os.kill(self.process.pid, signal.SIGCONT)

    def kill(self) -> None:
        """SIGKILL: no clean shutdown, no chance to finish or hand back a job."""
        if self.process and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


def portal_env(database_url: str, redis_url: str, var_dir: Path, **extra: str) -> dict:
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("PORTAL_", "PICCOLO_", "PYTEST", "HYPOTHESIS"))}
    env.update({
        "PORTAL_ENVIRONMENT": "production", "PORTAL_DATABASE_URL": database_url, "PORTAL_REDIS_URL": redis_url,
        "PORTAL_SECRET_KEY": SECRET_KEY, "PORTAL_PSEUDONYM_KEY": PSEUDONYM_KEY, "PORTAL_VAR_DIR": str(var_dir),
        "PORTAL_DATABASE_POOL_SIZE": "5", "PICCOLO_CONF": "portal.piccolo_conf",
        # login-rate limit per address: the concurrency test logs in many times from 127.0.0.1
        "PORTAL_LOGIN_ATTEMPTS_PER_MINUTE": "1000",
    })
    env.update(extra)
    return env


def run_cli(env: dict, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([PORTAL, *args], env=env, cwd=REPO, capture_output=True, text=True, timeout=timeout)


def temporary_root() -> Path:
    return Path(tempfile.mkdtemp(prefix="inzicht-production-"))
