"""An OpenBao dev server for the SDK suite's vault mode (COFFER_KMS_BACKEND=vault).

The `bao` binary comes from COFFER_BAO_BIN (tests/engines/openbao.sh installs it; scripts/test.sh
sets it). The server listens on a free loopback port, keeps its keys in memory, has Transit
enabled, and is stopped by its own PID.
"""
import json
import os
import socket
import subprocess
import time

from engine_process import EngineProcess

ROOT_TOKEN = "coffer-sdk-root"


def bao_bin():
    path = os.environ.get("COFFER_BAO_BIN")
    if not path or not os.access(path, os.X_OK):
        raise RuntimeError("COFFER_KMS_BACKEND=vault needs COFFER_BAO_BIN "
                           "(export COFFER_BAO_BIN=$(tests/engines/openbao.sh))")
    return path


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class OpenBao(EngineProcess):
    name = "openbao"

    def __init__(self, tmpdir, tls=False):
        """With tls, the server listens over TLS only, with a certificate signed by a CA it
        generates into its home (`ca_path`), which Coffer is told with --vault-ca-cert."""
        self.binary = bao_bin()
        self.home = os.path.join(tmpdir, "bao-home")
        os.makedirs(self.home, exist_ok=True)
        self.port = free_port()
        self.tls = tls
        self.ca_path = os.path.join(self.home, "vault-ca.pem") if tls else None
        self.addr = "%s://127.0.0.1:%d" % ("https" if tls else "http", self.port)
        self.log_path = os.path.join(tmpdir, "bao.log")
        self.proc = None

    def _env(self):
        env = dict(os.environ)
        env.update(BAO_ADDR=self.addr, BAO_TOKEN=ROOT_TOKEN, HOME=self.home)
        if self.tls:
            env["BAO_CACERT"] = self.ca_path
        return env

    def start(self):
        args = [self.binary, "server", "-dev", "-dev-root-token-id=" + ROOT_TOKEN,
                "-dev-listen-address=127.0.0.1:%d" % self.port]
        if self.tls:
            args += ["-dev-tls", "-dev-tls-cert-dir=" + self.home]
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                args,
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=self._env())
        deadline = time.monotonic() + 30
        while subprocess.run([self.binary, "status"], env=self._env(), capture_output=True,
                             stdin=subprocess.DEVNULL).returncode != 0:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("openbao did not start; log in %s" % self.log_path)
            time.sleep(0.1)
        self.cli("secrets", "enable", "transit")

    def cli(self, *args):
        """Runs the bao CLI with the root token; returns its standard output."""
        r = subprocess.run([self.binary, *args], env=self._env(), capture_output=True,
                           stdin=subprocess.DEVNULL, text=True)
        if r.returncode != 0:
            raise RuntimeError("bao %s: %s" % (" ".join(args), r.stderr))
        return r.stdout

    def create_key(self, name):
        self.cli("write", "-f", "transit/keys/" + name, "derived=true")

    def server_args(self):
        args = ["--kms-backend", "vault", "--vault-addr", self.addr]
        if self.tls:
            args += ["--vault-ca-cert", self.ca_path]
        return args

    def server_env(self):
        return {"VAULT_TOKEN": ROOT_TOKEN}






class PersistentOpenBao(OpenBao):
    """An OpenBao server whose keys survive a restart: `bao server -config` with integrated
    (raft) storage, the one persistent backend OpenBao 2.x keeps besides databases, and a
    TCP listener (a dev server keeps keys in memory), initialised with one unseal key,
    unsealed, Transit enabled. `restart()` kills it and starts it again on the same port and
    storage, unsealed: what an operator does after a crash."""

    def __init__(self, tmpdir):
        super().__init__(tmpdir)
        self.storage = os.path.join(tmpdir, "bao-storage")
        self.config_path = os.path.join(tmpdir, "bao.hcl")
        self.cluster_port = free_port()
        self.token = None
        self.unseal_key = None

    def _env(self):
        env = super()._env()
        env["BAO_TOKEN"] = self.token or ""
        return env

    def _write_config(self):
        os.makedirs(self.storage, exist_ok=True)
        with open(self.config_path, "w") as f:
            f.write('storage "raft" {\n  path = "%s"\n  node_id = "coffer-test"\n}\n'
                    % self.storage)
            f.write('listener "tcp" {\n  address = "127.0.0.1:%d"\n  tls_disable = true\n}\n'
                    % self.port)
            f.write('api_addr = "%s"\ncluster_addr = "http://127.0.0.1:%d"\n'
                    % (self.addr, self.cluster_port))

    def _launch(self):
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen([self.binary, "server", "-config", self.config_path],
                                         stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, env=self._env())
        deadline = time.monotonic() + 30
        # `bao status` exits 2 while sealed, 0 unsealed, 1 when it cannot reach the server.
        while self._status() == 1:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("openbao did not start; log in %s" % self.log_path)
            time.sleep(0.1)

    def _status(self):
        return subprocess.run([self.binary, "status"], env=self._env(), capture_output=True,
                              stdin=subprocess.DEVNULL).returncode

    def start(self):
        self._write_config()
        self._launch()
        init = json.loads(self.cli("operator", "init", "-key-shares=1", "-key-threshold=1",
                                   "-format=json"))
        self.unseal_key = init["unseal_keys_b64"][0]
        self.token = init["root_token"]
        self._unseal()
        self.cli("secrets", "enable", "transit")

    def _unseal(self):
        """Unseals, and returns once the single raft node leads (before that, writes fail)."""
        self.cli("operator", "unseal", self.unseal_key)
        deadline = time.monotonic() + 30
        while not self._leading():
            if time.monotonic() > deadline:
                raise RuntimeError("openbao did not unseal; log in %s" % self.log_path)
            time.sleep(0.1)

    def _leading(self):
        r = subprocess.run([self.binary, "status", "-format=json"], env=self._env(),
                           capture_output=True, stdin=subprocess.DEVNULL, text=True)
        if r.returncode != 0:
            return False
        status = json.loads(r.stdout)
        return not status.get("sealed") and status.get("is_self") is True

    def start_again(self):
        self._launch()
        self._unseal()

    def server_env(self):
        return {"VAULT_TOKEN": self.token}
