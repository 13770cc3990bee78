"""Start, stop and inspect a local Neo4j Community 5.26 without Docker.

The Java launcher (``Launcher.java`` beside this file) runs Neo4j in-process with Bolt on
127.0.0.1. It is compiled with Maven on first use; the classpath comes from
``mvn dependency:build-classpath`` (no shaded jar). The server runs detached from the calling
process; its pid, port and log live in the data directory.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from core.i18n import N_, _
from graph_schema.errors import KpigraphError

PROJECT_DIR = Path(__file__).resolve().parent
MAIN_CLASS = "dev.kpigraph.neo4jlocal.Launcher"
JVM_FLAGS = [
    "--add-opens=java.base/java.nio=ALL-UNNAMED",
    "--add-opens=java.base/java.io=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
    "-Dio.netty.tryReflectionSetAccessible=true",
    "-XX:+UseG1GC",
]


class LauncherError(KpigraphError):
    """The local Neo4j could not be built, started or stopped."""

    code = "neo4j_launcher"


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "kpigraph" / "neo4j"


@dataclass(frozen=True)
class LocalNeo4j:
    """A running local server."""

    uri: str
    port: int
    pid: int
    data_dir: Path
    log: Path


def _tool(name: str, what: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise LauncherError(
            _(
                "{name} not found on PATH; the local Neo4j needs {what}. Install it (Debian: "
                "apt-get install openjdk-17-jdk-headless maven), or use Docker or an existing "
                "server through KPIGRAPH_NEO4J_URI",
                name=name,
                what=_(what),
            )
        )
    return path


def _target() -> Path:
    return PROJECT_DIR / "target"


def _classpath_file() -> Path:
    return _target() / "classpath.txt"


def _class_file() -> Path:
    return _target() / "classes" / "dev" / "kpigraph" / "neo4jlocal" / "Launcher.class"


def _sources() -> list[Path]:
    return [PROJECT_DIR / "pom.xml", *sorted((PROJECT_DIR / "src").rglob("*.java"))]


def is_built() -> bool:
    """Whether the launcher class and classpath exist and are newer than their sources."""
    outputs = [_class_file(), _classpath_file()]
    if not all(p.is_file() for p in outputs):
        return False
    newest_source = max(p.stat().st_mtime for p in _sources())
    return min(p.stat().st_mtime for p in outputs) >= newest_source


def build(quiet: bool = True) -> str:
    """Compile the launcher and resolve Neo4j's jars through Maven; return the classpath."""
    _tool("java", N_("Java 17 or newer"))
    if not is_built():
        mvn = _tool("mvn", N_("Maven to fetch Neo4j's jars"))
        cmd = [
            mvn,
            "-B",
            *(["-q"] if quiet else []),
            "-f",
            str(PROJECT_DIR / "pom.xml"),
            "compile",
            "dependency:build-classpath",
            f"-Dmdep.outputFile={_classpath_file()}",
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
            raise LauncherError(_("building the local Neo4j launcher failed:") + "\n" + tail)
        for p in (_class_file(), _classpath_file()):
            p.touch()
    deps = _classpath_file().read_text().strip()
    return f"{_target() / 'classes'}{os.pathsep}{deps}"


def port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie child of ours is not alive
    with contextlib.suppress(ChildProcessError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    return True


def _state(data_dir: Path) -> tuple[int, int] | None:
    pid_file = data_dir / "launcher.pid"
    if not pid_file.is_file():
        return None
    try:
        pid_text, port_text = pid_file.read_text().split()
        return int(pid_text), int(port_text)
    except ValueError:
        return None


def status(data_dir: Path | None = None) -> LocalNeo4j | None:
    """The running server of ``data_dir``, or ``None``."""
    data = (data_dir or default_data_dir()).resolve()
    state = _state(data)
    if state is None or not _pid_alive(state[0]):
        return None
    pid, port = state
    return LocalNeo4j(f"bolt://127.0.0.1:{port}", port, pid, data, data / "launcher.log")


def bolt_answers(uri: str, timeout: float = 2.0) -> bool:
    from neo4j import GraphDatabase

    try:
        with GraphDatabase.driver(uri, auth=("neo4j", "kpigraph"), connection_timeout=timeout) as d:
            d.verify_connectivity()
        return True
    except Exception:
        return False


def start(
    port: int = 7687,
    data_dir: Path | None = None,
    heap: str = "1g",
    pagecache_mb: int = 256,
    timeout: float = 180.0,
    tx_max_mb: int = 0,
) -> LocalNeo4j:
    """Start a detached local Neo4j and wait until Bolt answers.

    Reuses a server already running on the same data directory. ``tx_max_mb`` caps one
    transaction's memory (``db.memory.transaction.max``; 0: no cap but the heap's).
    """
    data = (data_dir or default_data_dir()).resolve()
    running = status(data)
    if running is not None:
        if bolt_answers(running.uri):
            return running
        raise LauncherError(
            _(
                "a local Neo4j (pid {pid}) holds {data} but does not answer on {uri}; run "
                "'kpigraph neo4j stop --data {data}' first",
                pid=running.pid,
                data=data,
                uri=running.uri,
            )
        )
    if not port_free(port):
        raise LauncherError(
            _(
                "port {port} on 127.0.0.1 is taken; choose another with --port (or stop what "
                "uses it)",
                port=port,
            )
        )
    classpath = build()
    data.mkdir(parents=True, exist_ok=True)
    from neo4j_local import offline_import  # a swap of the database a kill interrupted

    offline_import.recover(data)
    log = data / "launcher.log"
    java = _tool("java", N_("Java 17 or newer"))
    cmd = [
        java,
        f"-Xmx{heap}",
        *JVM_FLAGS,
        "-cp",
        classpath,
        MAIN_CLASS,
        "--port",
        str(port),
        "--data",
        str(data / "db"),
        "--pagecache-mb",
        str(pagecache_mb),
        "--tx-max-mb",
        str(tx_max_mb),
    ]
    with open(log, "ab") as log_file:
        proc = subprocess.Popen(
            cmd,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            cwd=data,
        )
    (data / "launcher.pid").write_text(f"{proc.pid} {port}\n")
    settings = {"heap": heap, "pagecache_mb": pagecache_mb, "tx_max_mb": tx_max_mb}
    (data / "launcher.json").write_text(json.dumps(settings) + "\n")  # what restart() reuses
    uri = f"bolt://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            (data / "launcher.pid").unlink(missing_ok=True)
            tail = "\n".join(log.read_text(errors="replace").strip().splitlines()[-10:])
            raise LauncherError(
                _(
                    "the local Neo4j exited with code {code}; log {log}:",
                    code=proc.returncode,
                    log=log,
                )
                + "\n"
                + tail
            )
        if "READY" in log.read_text(errors="replace") and bolt_answers(uri):
            return LocalNeo4j(uri, port, proc.pid, data, log)
        time.sleep(0.25)
    proc.terminate()
    raise LauncherError(
        _(
            "the local Neo4j did not answer on {uri} within {seconds} s; see {log}",
            uri=uri,
            seconds=f"{timeout:.0f}",
            log=log,
        )
    )


def restart(data_dir: Path, port: int, timeout: float = 180.0) -> LocalNeo4j:
    """Start the server of ``data_dir`` again on ``port`` with the heap, page cache and
    transaction cap it was last started with (kept in ``launcher.json``)."""
    data = data_dir.resolve()
    try:
        settings = json.loads((data / "launcher.json").read_text())
    except (OSError, ValueError):
        settings = {}
    return start(
        port=port,
        data_dir=data,
        heap=str(settings.get("heap", "1g")),
        pagecache_mb=int(settings.get("pagecache_mb", 256)),
        tx_max_mb=int(settings.get("tx_max_mb", 0)),
        timeout=timeout,
    )


def stop(data_dir: Path | None = None, timeout: float = 60.0) -> bool:
    """Stop the server of ``data_dir`` (SIGTERM, then SIGKILL). Returns whether one ran."""
    data = (data_dir or default_data_dir()).resolve()
    state = _state(data)
    pid_file = data / "launcher.pid"
    if state is None or not _pid_alive(state[0]):
        pid_file.unlink(missing_ok=True)
        return False
    pid = state[0]
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _pid_alive(pid):
        time.sleep(0.2)
    if _pid_alive(pid):
        os.kill(pid, signal.SIGKILL)
    pid_file.unlink(missing_ok=True)
    return True
