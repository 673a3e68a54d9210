#!/usr/bin/python3
"""A real, throwaway PostgreSQL 15 server for tests.

initdb into a fresh directory, then pg_ctl start on 127.0.0.1 and a free TCP
port: trust authentication, user and database `postgres`, UTF8, C locale,
max_prepared_transactions = 20 unless told otherwise, fsync on (a restart
keeps what was committed). initdb and postgres refuse to run as root, so as
root they run as the `postgres` OS user, which then owns the directory (its
parents must be searchable by that user). Queries go through `psql`.

Use from Python:
    with PostgresServer() as pg:
        pg.execute("CREATE TABLE t (k int PRIMARY KEY)")
        pg.query("SELECT count(*) FROM t")   # [("0",)]
        pg.restart()                         # same port and data
        pg.dsn, pg.port, pg.log()

From the command line,
    /usr/bin/python3 tests/support/postgres_server.py --selftest
checks this module against the installed server and prints OK.

The server is stopped when the `with` block is left or Python exits
(atexit), but not if this process is killed with SIGKILL.
Debian bookworm: apt-get install postgresql-15 postgresql-client-15.
"""

import argparse
import atexit
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile

PG_BIN = os.environ.get("SLUICE_PG_BIN", "/usr/lib/postgresql/15/bin")
_SOCKET_PATH_MAX = 107  # sun_path, less the terminating NUL


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    """initdb + pg_ctl start for the lifetime of a `with` block.

    Attributes: dsn (a libpq connection string), host, port, user, dbname,
    directory (holds data/, postgres.log and the Unix socket). A `directory`
    passed in is kept (a cluster already in its data/ is reused); otherwise a
    fresh temp directory is made, and removed at the end.
    """

    def __init__(self, directory=None, port=None, max_prepared_transactions=20):
        self._owns_directory = directory is None
        self.directory = os.path.abspath(directory or tempfile.mkdtemp(prefix="sluice-pg-"))
        self._pick_port = port is None
        self.port = port or _free_port()
        self.max_prepared_transactions = max_prepared_transactions
        self.host, self.user, self.dbname = "127.0.0.1", "postgres", "postgres"
        self.data_dir = os.path.join(self.directory, "data")
        self.log_file = os.path.join(self.directory, "postgres.log")
        self._running = self._started = False
        self._env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        self._env.update(PGCLIENTENCODING="UTF8", LC_ALL="C")
        self._as_postgres = []
        if os.geteuid() == 0:
            self._as_postgres = ["setpriv", "--reuid=postgres", "--regid=postgres",
                                 "--init-groups", "--"]
            self._env.update(HOME=self.directory, USER="postgres", LOGNAME="postgres")
        psql = os.path.join(PG_BIN, "psql")  # not Debian's pg_wrapper: faster
        self._psql = psql if os.path.exists(psql) else "psql"

    @property
    def dsn(self):
        return f"host={self.host} port={self.port} user={self.user} dbname={self.dbname}"

    def _pg(self, tool, *args, check=True):
        """Runs a server binary (or `test`) as the postgres user; raises with its output."""
        program = os.path.join(PG_BIN, tool) if tool != "test" else "/usr/bin/test"
        result = subprocess.run(self._as_postgres + [program, *args], cwd=self.directory,
                                env=self._env, stdin=subprocess.DEVNULL, capture_output=True,
                                text=True)
        if check and result.returncode != 0:
            raise RuntimeError(f"{tool} {' '.join(args)} failed ({result.returncode}):\n"
                               f"{result.stdout}{result.stderr}{self._log_tail()}")
        return result

    def _init(self):
        os.makedirs(self.directory, exist_ok=True)
        if len(os.path.join(self.directory, ".s.PGSQL.65535")) > _SOCKET_PATH_MAX:
            raise RuntimeError(f"{self.directory} is too long a path for a Unix socket")
        if self._as_postgres:
            pw = pwd.getpwnam("postgres")
            os.chown(self.directory, pw.pw_uid, pw.pw_gid)
            if self._pg("test", "-w", self.directory, check=False).returncode != 0:
                raise RuntimeError(f"user postgres cannot write {self.directory}: is a "
                                   "parent directory closed to it?")
        self._pg("initdb", "-D", self.data_dir, "-A", "trust", "-U", "postgres", "--no-sync",
                 "-E", "UTF8", "--locale=C")
        with open(os.path.join(self.data_dir, "postgresql.conf"), "a") as f:
            f.write("include = 'sluice_test.conf'\n")  # after the defaults; ALTER SYSTEM wins

    def start(self):
        """Starts the server (after initdb, the first time); returns self.

        A port picked here is picked again if another process took it first."""
        if self._running:
            return self
        try:
            if not os.path.exists(os.path.join(self.data_dir, "PG_VERSION")):
                self._init()
            for attempt in range(5):
                with open(os.path.join(self.data_dir, "sluice_test.conf"), "w") as f:
                    f.write(f"max_prepared_transactions = {self.max_prepared_transactions}\n"
                            f"listen_addresses = '127.0.0.1'\nport = {self.port}\n"
                            f"unix_socket_directories = '{self.directory}'\n")
                log_start = len(self.log())
                result = self._pg("pg_ctl", "-D", self.data_dir, "-l", self.log_file, "-w",
                                  "start", check=False)
                if result.returncode == 0:
                    break
                if not (self._pick_port and attempt < 4 and
                        "could not bind" in self.log()[log_start:]):
                    raise RuntimeError(f"pg_ctl start failed:\n{result.stdout}{result.stderr}"
                                       f"{self._log_tail()}")
                self.port = _free_port()
            self._running = self._started = True
            atexit.register(self.close)
        except BaseException:
            if not self._started:  # a failed restart keeps the directory for a look
                self.close()
            raise
        return self

    def stop(self, mode="fast"):
        """Stops the server (`mode` as for pg_ctl -m: smart, fast, immediate)."""
        if self._running:
            self._running = False
            atexit.unregister(self.close)
            self._pg("pg_ctl", "-D", self.data_dir, "-m", mode, "-w", "stop")

    def restart(self, mode="fast"):
        """Stops and starts again, on the same port and data directory."""
        self.stop(mode)
        return self.start()

    def close(self):
        """Stops the server at once and removes the directory if it made it."""
        if self._running or os.path.exists(os.path.join(self.data_dir, "postmaster.pid")):
            self._running = False
            atexit.unregister(self.close)
            self._pg("pg_ctl", "-D", self.data_dir, "-m", "immediate", "-w", "stop",
                     check=False)
        if self._owns_directory:
            shutil.rmtree(self.directory, ignore_errors=True)

    def log(self):
        """The server log so far."""
        if not os.path.exists(self.log_file):
            return ""
        with open(self.log_file, errors="replace") as f:
            return f.read()

    def _log_tail(self):
        return "\n--- postgres.log (end) ---\n" + self.log()[-4000:]

    def query(self, sql):
        """Runs `sql` with psql; returns the last statement's rows as tuples of
        strings (NULL reads as ""). Raises RuntimeError with psql's stderr."""
        result = subprocess.run([self._psql, "-X", "-q", "-A", "-t", "-F", "\t", "-v",
                                 "ON_ERROR_STOP=1", "-d", self.dsn, "-c", sql], env=self._env,
                                stdin=subprocess.DEVNULL, capture_output=True, encoding="utf-8")
        if result.returncode != 0:
            raise RuntimeError(f"psql failed ({result.returncode}) on {sql!r}:\n{result.stderr}")
        return [tuple(line.split("\t")) for line in result.stdout.splitlines()]

    def execute(self, sql):
        """Runs `sql` with psql, ignoring any rows."""
        self.query(sql)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()


def selftest():
    """Two-phase commit and a restart against a real server."""
    with PostgresServer() as pg:
        pg.execute("CREATE TABLE t (k int PRIMARY KEY, v text)")
        pg.execute("INSERT INTO t VALUES (1, 'one'), (2, 'two')")
        pg.execute("BEGIN; INSERT INTO t VALUES (3, 'three'); PREPARE TRANSACTION 'x'")
        assert pg.query("SELECT gid FROM pg_prepared_xacts") == [("x",)]
        assert pg.query("SELECT count(*) FROM t") == [("2",)]
        pg.execute("COMMIT PREPARED 'x'")
        assert pg.query("SELECT count(*) FROM pg_prepared_xacts") == [("0",)]
        pg.restart()
        rows = pg.query("SELECT k, v FROM t ORDER BY k")
        assert rows == [("1", "one"), ("2", "two"), ("3", "three")], rows
        assert pg.query("SHOW max_prepared_transactions") == [("20",)]
    print("OK")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--selftest", action="store_true", help="check this module, print OK")
    if not parser.parse_args().selftest:
        parser.error("nothing to do: pass --selftest")
    selftest()
    return 0


if __name__ == "__main__":
    sys.exit(main())
