"""A PyKMIP server for the SDK suite's kmip mode (COFFER_KMS_BACKEND=kmip).

The server runs under the python of the venv tests/engines/pykmip.sh installs; COFFER_PYKMIP
names it (scripts/test.sh sets it). The certificates are made for the session by that same
python (PyKMIP's venv has `cryptography`): a CA, a server certificate for 127.0.0.1 and a client
certificate with the clientAuth usage PyKMIP requires. The server listens on a free loopback
port, keeps its keys in SQLite in the session's temp dir, and is stopped by its own PID.
"""
import os
import socket
import subprocess
import time

from engine_process import EngineProcess

# Run by PyKMIP's python: writes ca.pem, server.pem/.key and client.pem/.key into argv[1].
_MAKE_CERTS = r"""
import datetime, ipaddress, sys
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

out = sys.argv[1]
now = datetime.datetime.now(datetime.timezone.utc)

def name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

def write(stem, cert, key):
    with open("%s/%s.pem" % (out, stem), "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    if key is not None:
        with open("%s/%s.key" % (out, stem), "wb") as f:
            f.write(key.private_bytes(serialization.Encoding.PEM,
                                      serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))

def build(subject, key, issuer, issuer_key, extensions):
    b = (x509.CertificateBuilder().subject_name(name(subject)).issuer_name(name(issuer))
         .public_key(key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(now - datetime.timedelta(minutes=5))
         .not_valid_after(now + datetime.timedelta(days=2)))
    for ext, critical in extensions:
        b = b.add_extension(ext, critical=critical)
    return b.sign(issuer_key, hashes.SHA256())

ca_key = ec.generate_private_key(ec.SECP256R1())
ca = build("coffer sdk kmip CA", ca_key, "coffer sdk kmip CA", ca_key,
           [(x509.BasicConstraints(ca=True, path_length=None), True)])
write("ca", ca, None)
server_key = ec.generate_private_key(ec.SECP256R1())
write("server", build("127.0.0.1", server_key, "coffer sdk kmip CA", ca_key, [
    (x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False),
    (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)]), server_key)
client_key = ec.generate_private_key(ec.SECP256R1())
write("client", build("coffer", client_key, "coffer sdk kmip CA", ca_key, [
    (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), False)]), client_key)
"""

# Run by PyKMIP's python: one call of PyKMIP's own client, for tests to act on keys directly.
_CLIENT = r"""
import sys
from kmip.core import enums
from kmip.pie.client import ProxyKmipClient
d, port, op, arg = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
c = ProxyKmipClient(hostname="127.0.0.1", port=port, cert=d + "/client.pem",
                    key=d + "/client.key", ca=d + "/ca.pem", ssl_version="PROTOCOL_TLSv1_2",
                    kmip_version=enums.KMIPVersion.KMIP_1_2, config_file="/dev/null")
with c:
    if op == "create":
        uid = c.create(enums.CryptographicAlgorithm.AES, 256, name=arg,
                       cryptographic_usage_mask=[enums.CryptographicUsageMask.ENCRYPT,
                                                 enums.CryptographicUsageMask.DECRYPT])
        c.activate(uid)
        print(uid)
    elif op == "locate":
        name = c.attribute_factory.create_attribute(enums.AttributeType.NAME, arg)
        print(" ".join(c.locate(attributes=[name])))
    elif op == "revoke":
        c.revoke(enums.RevocationReasonCode.CESSATION_OF_OPERATION, arg)
    elif op == "destroy":
        c.destroy(arg)
"""


def pykmip_python():
    path = os.environ.get("COFFER_PYKMIP")
    if not path or not os.access(path, os.X_OK):
        raise RuntimeError("COFFER_KMS_BACKEND=kmip needs COFFER_PYKMIP "
                           "(export COFFER_PYKMIP=$(tests/engines/pykmip.sh))")
    return path


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PyKmip(EngineProcess):
    name = "pykmip"

    def __init__(self, tmpdir):
        self.python = pykmip_python()
        self.dir = os.path.join(tmpdir, "pykmip")
        os.makedirs(self.dir, exist_ok=True)
        self.port = free_port()
        self.log_path = os.path.join(self.dir, "server.log")
        self.proc = None

    def path(self, name):
        return os.path.join(self.dir, name)

    def _write_config(self):
        config = "\n".join([
            "[server]", "hostname=127.0.0.1", "port=%d" % self.port,
            "certificate_path=" + self.path("server.pem"),
            "key_path=" + self.path("server.key"), "ca_path=" + self.path("ca.pem"),
            "auth_suite=TLS1.2", "enable_tls_client_auth=True", "logging_level=INFO",
            "database_path=" + self.path("pykmip.sqlite"), ""])
        with open(self.path("server.conf"), "w") as f:
            f.write(config)

    def start(self):
        subprocess.run([self.python, "-c", _MAKE_CERTS, self.dir], check=True,
                       stdin=subprocess.DEVNULL, capture_output=True)
        self._write_config()
        self._launch()

    def _launch(self):
        """Starts the server on the existing certificates, config and SQLite store."""
        with open(self.path("stdout.log"), "ab") as out:
            self.proc = subprocess.Popen(
                [self.python, "-c", "from kmip.services.server.server import main; main()",
                 "-f", self.path("server.conf"), "-l", self.log_path],
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while not self._accepts():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("pykmip did not start; log in %s" % self.log_path)
            time.sleep(0.1)

    def _accepts(self):
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
            return True
        except OSError:
            return False

    def server_args(self):
        return ["--kms-backend", "kmip", "--kmip-addr", "127.0.0.1:%d" % self.port,
                "--kmip-ca", self.path("ca.pem"),
                "--kmip-client-cert", self.path("client.pem"),
                "--kmip-client-key", self.path("client.key")]

    def server_env(self):
        return {}

    def client(self, operation, *args):
        """Runs one PyKMIP client call (create NAME, locate NAME, revoke UID, destroy UID) as
        Coffer's client certificate, so on the objects Coffer owns; returns what it prints."""
        r = subprocess.run([self.python, "-c", _CLIENT, self.dir, str(self.port), operation, *args],
                           stdin=subprocess.DEVNULL, capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError("pykmip client %s %s: %s" % (operation, args, r.stderr[-2000:]))
        return r.stdout.strip()

    def start_again(self):
        """The same port, certificates and key store: the keys Coffer made are still there."""
        self._launch()

