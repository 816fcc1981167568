"""A throwaway Virtuoso 7 on 127.0.0.1 for the remote-store tests (and for trying exmech by hand).

Everything lives in one folder: the ini, the database, the log; both ports are picked free.
The DBA password is replaced by a random one right after start; a dedicated ``exmech``
user gets the SPARQL_UPDATE role, so writes go through the digest-auth endpoints
(/sparql-auth, /sparql-graph-crud-auth) and reads through anonymous /sparql; Virtuoso's
system graphs and exmech's bookkeeping graphs are made private, so anonymous readers see
exmech's graphs only. That is the setup docs/remote-store.md asks of a production server.
The server is stopped by its pid, never by name.

By hand::

    .venv/bin/python tests/virtuoso.py /tmp/virt     # prints EXMECH_* lines, Ctrl-C stops it
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

BINARY = "virtuoso-t"
ISQL = "isql-vt"
USER = "exmech"

INI = """\
[Database]
DatabaseFile       = {folder}/virtuoso.db
ErrorLogFile       = {folder}/virtuoso.log
LockFile           = {folder}/virtuoso.lck
TransactionFile    = {folder}/virtuoso.trx
xa_persistent_file = {folder}/virtuoso.pxa
ErrorLogLevel      = 7
FileExtend         = 200
MaxCheckpointRemap = 2000
Striping           = 0
TempStorage        = TempDatabase

[TempDatabase]
DatabaseFile       = {folder}/virtuoso-temp.db
TransactionFile    = {folder}/virtuoso-temp.trx
MaxCheckpointRemap = 2000
Striping           = 0

[Parameters]
ServerPort               = 127.0.0.1:{sql_port}
DisableUnixSocket        = 1
MaxClientConnections     = 20
CheckpointInterval       = 60
DirsAllowed              = {folder}
NumberOfBuffers          = {buffers}
MaxDirtyBuffers          = {dirty}
ThreadsPerQuery          = 2
MaxQueryMem              = 1G
AllowOSCalls             = 0

[HTTPServer]
ServerPort               = 127.0.0.1:{http_port}
ServerRoot               = {folder}/vsp
MaxClientConnections     = 20
ServerThreads            = 20
EnabledDavVSP            = 0
HTTPProxyEnabled         = 0
MaxKeepAlives            = 10
KeepAliveTimeout         = 10
Charset                  = UTF-8
EnabledGzipContent       = 0

[SPARQL]
ResultSetMaxRows           = {max_rows}
MaxQueryCostEstimationTime = 0
MaxQueryExecutionTime      = 60
"""

PRIVATE = "http://www.openlinksw.com/schemas/virtrdf#PrivateGraphs"
BOOKKEEPING = ("urn:exmech:store", "urn:exmech:journal")

# Run as dba once the server is up (docs/remote-store.md explains each line): a
# least-privilege writer for exmech, and every graph that is not exmech's data made private,
# so the union default graph anonymous readers query holds exmech's graphs only.
SETUP = """\
DB.DBA.USER_CREATE('{user}', '{password}');
GRANT SPARQL_UPDATE TO "{user}";
DB.DBA.RDF_GRAPH_GROUP_CREATE('{private}', 1);
{private_graphs}
DB.DBA.RDF_DEFAULT_USER_PERMS_SET('nobody', 0, 1);
DB.DBA.RDF_DEFAULT_USER_PERMS_SET('nobody', 1, 0);
DB.DBA.RDF_DEFAULT_USER_PERMS_SET('{user}', 0, 1);
DB.DBA.RDF_DEFAULT_USER_PERMS_SET('{user}', 3, 0);
{bookkeeping}
"""


@dataclass
class Virtuoso:
    """A running server: where to reach it, and the process to stop."""

    folder: Path
    http_port: int
    sql_port: int
    process: subprocess.Popen[bytes]
    dba_password: str
    password: str
    user: str = USER

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def env(self) -> dict[str, str]:
        """EXMECH_* settings that point exmech at this server."""
        return {
            "EXMECH_STORE": "remote",
            "EXMECH_REMOTE_QUERY_URL": f"{self.base}/sparql",
            "EXMECH_REMOTE_UPDATE_URL": f"{self.base}/sparql-auth",
            "EXMECH_REMOTE_GSP_URL": f"{self.base}/sparql-graph-crud-auth",
            "EXMECH_REMOTE_USER": self.user,
            "EXMECH_REMOTE_PASSWORD": self.password,
            "EXMECH_REMOTE_AUTH": "digest",
        }

    def log(self) -> str:
        path = self.folder / "virtuoso.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def isql(self, sql: str) -> str:
        """Run SQL as dba through isql-vt; raises RuntimeError with its output on failure."""
        done = subprocess.run(
            [ISQL, f"127.0.0.1:{self.sql_port}", "dba", self.dba_password],
            input=sql.encode(),
            capture_output=True,
            timeout=60,
        )
        output = (done.stdout + done.stderr).decode(errors="replace")
        if done.returncode != 0 or "*** Error" in output:
            raise RuntimeError(f"isql failed:\n{output}")
        return output

    def stop(self) -> None:
        """SIGTERM (Virtuoso checkpoints and exits), SIGKILL if it hangs."""
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers(url: str) -> bool:
    query = urllib.parse.urlencode({"query": "ASK {}"})
    try:
        with urllib.request.urlopen(f"{url}/sparql?{query}", timeout=2) as response:
            return int(response.status) == 200
    except (urllib.error.URLError, OSError):
        return False


def start(
    folder: Path, max_rows: int = 100_000, wait: float = 90.0, buffers: int = 30_000
) -> Virtuoso:
    """Write the ini into ``folder``, start virtuoso-t there, wait for /sparql, add the user.

    ``buffers`` is Virtuoso's page cache in 8 kB pages (30,000 is 240 MB; Virtuoso's own ini
    suggests 340,000 on a machine with 4 GB free for it).
    """
    binary = shutil.which(BINARY)
    if binary is None:
        raise FileNotFoundError(f"{BINARY} not found; apt-get install virtuoso-opensource-7")
    folder = folder.resolve()
    (folder / "vsp").mkdir(parents=True, exist_ok=True)
    http_port, sql_port = _free_port(), _free_port()
    ini = folder / "virtuoso.ini"
    ini.write_text(
        INI.format(
            folder=folder,
            http_port=http_port,
            sql_port=sql_port,
            max_rows=max_rows,
            buffers=buffers,
            dirty=buffers * 3 // 4,
        )
    )
    dba_password = secrets.token_hex(12)
    log = open(folder / "stdout.log", "wb")  # noqa: SIM115 - lives as long as the server
    process = subprocess.Popen(
        [binary, "+foreground", "+configfile", str(ini)],
        cwd=folder,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    server = Virtuoso(folder, http_port, sql_port, process, "dba", secrets.token_hex(12))
    deadline = time.monotonic() + wait
    while not _answers(server.base):
        if process.poll() is not None or time.monotonic() > deadline:
            server.stop()
            raise RuntimeError(f"Virtuoso did not start:\n{server.log()[-3000:]}")
        time.sleep(0.2)
    try:
        listed = server.isql("SPARQL SELECT ?g WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g;")
        system = [
            line.strip()
            for line in listed.splitlines()
            if "://" in line and " " not in line.strip()
        ]
        private = [*system, *BOOKKEEPING]
        server.isql(
            SETUP.format(
                user=server.user,
                password=server.password,
                private=PRIVATE,
                private_graphs="\n".join(
                    f"DB.DBA.RDF_GRAPH_GROUP_INS('{PRIVATE}', '{g}');" for g in private
                ),
                bookkeeping="\n".join(
                    f"DB.DBA.RDF_GRAPH_USER_PERMS_SET('{g}', '{server.user}', 3);"
                    for g in BOOKKEEPING
                ),
            )
        )
        server.isql(f"USER_SET_PASSWORD('dba', '{dba_password}');")
        server.dba_password = dba_password
    except Exception:
        server.stop()
        raise
    return server


if __name__ == "__main__":
    running = start(Path(sys.argv[1] if len(sys.argv) > 1 else "virtuoso-tmp"))
    for key, value in running.env.items():
        print(f"export {key}={value}", flush=True)

    def _stop(_signum: int, _frame: object) -> None:
        running.stop()
        sys.exit(0)

    # Ctrl-C, or `kill <pid of this script>` (a backgrounded shell job ignores SIGINT).
    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    running.process.wait()
