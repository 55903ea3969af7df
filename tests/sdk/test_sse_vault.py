"""SSE with keys in OpenBao Transit (--kms-backend vault). Runs only in the suite's vault
mode (COFFER_KMS_BACKEND=vault, as scripts/test.sh runs it); the other SSE files run in that
mode too, unchanged.
"""
import os
import secrets
import shutil
import subprocess
import tempfile
import time
import urllib.request

import oss2
import pytest

import sdkhelpers as h
from conftest import KMS_BACKEND, CofferServer
from openbao import ROOT_TOKEN, OpenBao, free_port

pytestmark = pytest.mark.skipif(KMS_BACKEND != "vault",
                                reason="needs COFFER_KMS_BACKEND=vault (scripts/test.sh sets it)")


def test_cmk_ids_are_transit_key_names(server, o2_admin):
    r = o2_admin.put_object("default", b"d", headers=h.sse_headers("KMS"))
    assert h.assert_sse(r.headers, "KMS") == "coffer-default"
    server.bao.create_key("tenant-a")
    r = o2_admin.put_object("named", b"n", headers=h.sse_headers("KMS+SM4", "tenant-a"))
    h.assert_sse(r.headers, "KMS+SM4", key_id="tenant-a")
    assert o2_admin.get_object("named").read() == b"n"
    # Coffer created both of its keys derived, so each wrap is bound to its object.
    for name in ("coffer-default", "coffer-sse-oss"):
        assert server.bao.cli("read", "-field=derived", "transit/keys/" + name).strip() == "true"


def test_rotating_the_transit_key_keeps_old_objects_readable(server, o2_admin):
    server.bao.create_key("rotating")
    o2_admin.put_object("old", b"old", headers=h.sse_headers("KMS", "rotating"))
    server.bao.cli("write", "-f", "transit/keys/rotating/rotate")
    o2_admin.put_object("new", b"new", headers=h.sse_headers("KMS", "rotating"))
    assert o2_admin.get_object("old").read() == b"old"
    assert o2_admin.get_object("new").read() == b"new"


def test_retired_key_version_refuses_its_objects(server, o2_admin):
    server.bao.create_key("retired")
    o2_admin.put_object("o", b"x", headers=h.sse_headers("KMS", "retired"))
    server.bao.cli("write", "-f", "transit/keys/retired/rotate")
    server.bao.cli("write", "transit/keys/retired/config", "min_decryption_version=2")
    with pytest.raises(oss2.exceptions.ServerError) as ei:
        o2_admin.get_object("o")
    h.assert_oss2_error(ei.value, 409, "KeyDisabled")


def test_coffer_kms_manages_transit_keys_and_refuses_what_transit_has_not(server, o2_admin):
    """`coffer kms` works on Transit keys: create (named), describe, rotate, usage, delete;
    what Transit has no notion of (disable, aliases) is refused, saying why and naming vault."""
    cli = h.CofferCli(server)
    name = "cli-" + secrets.token_hex(4)
    assert cli.run("kms", "create", "--name", name).stdout.strip() == name
    assert server.bao.cli("read", "-field=derived", "transit/keys/" + name).strip() == "true"
    assert name in cli.run("kms", "list").stdout
    o2_admin.put_object("cli-old", b"old", headers=h.sse_headers("KMS", name))
    assert "primary version 2" in cli.run("kms", "rotate", name).stdout
    assert cli.json("kms", "describe", name)["PrimaryKeyVersion"] == 2
    assert o2_admin.get_object("cli-old").read() == b"old"
    usage = cli.json("kms", "usage", name)["Usage"]
    assert usage == {"GenerateDataKey": 1, "Decrypt": 1}
    with urllib.request.urlopen(server.admin_endpoint + "/metrics", timeout=10) as r:
        metrics = r.read().decode()
    for op in ("GenerateDataKey", "Decrypt"):
        line = 'coffer_kms_key_calls{key_id="%s",operation="%s"} 1' % (name, op)
        assert line in metrics, metrics

    for refused in (("disable", name), ("schedule-deletion", name, "--days", "7"),
                    ("alias", "create", "alias/a", name)):
        r = cli.run("kms", *refused, check=False)
        assert r.returncode == 1, r
        assert "UnsupportedOperation" in r.stderr and "vault" in r.stderr, r.stderr

    cli.run("kms", "delete-now", name)
    r = cli.run("kms", "describe", name, check=False)
    assert r.returncode == 1 and "KeyNotFound" in r.stderr, r.stderr
    with pytest.raises(oss2.exceptions.ServerError):
        o2_admin.get_object("cli-old")


def test_anonymous_readers_are_refused_vault_held_cmks(server, make_bucket):
    """Coffer's token may use every Transit key; who may use a CMK is still Coffer's decision.
    An anonymous reader of a public-read bucket gets no SSE-KMS object, SSE-OSS ones it does."""
    name = make_bucket(acl=oss2.BUCKET_ACL_PUBLIC_READ, prefix="vault-anon")
    root = h.oss2_bucket(server, name, "v1")
    root.put_object("kms", b"secret", headers=h.sse_headers("KMS"))
    root.put_object("oss", b"public", headers=h.sse_headers("AES256"))
    anon = oss2.Bucket(oss2.AnonymousAuth(), server.endpoint, name, region=h.REGION)
    e = h.expect_error(lambda: anon.get_object("kms").read(), 403, "AccessDenied",
                       message=h.KMS_FORBIDDEN)
    assert b"secret" not in (e.body or b"")
    assert anon.get_object("oss").read() == b"public"
    assert root.get_object("kms").read() == b"secret"


class _ShortDeadline:
    """The session's OpenBao, with a 1 s deadline per call."""

    def __init__(self, bao):
        self.bao = bao

    def server_args(self):
        return self.bao.server_args() + ["--vault-timeout-ms", "1000"]

    def server_env(self):
        return self.bao.server_env()


def test_a_paused_openbao_fails_kms_requests_in_bounded_time_and_recovers(server):
    """OpenBao stopped (SIGSTOP) under a running server: SSE requests fail with 503 within the
    deadline (no hang), objects that need no key keep working, and after SIGCONT the same
    server serves SSE again without a restart."""
    tmp = tempfile.mkdtemp(prefix="coffer-pause-")
    srv = CofferServer(server.binary, tmp, _ShortDeadline(server.bao))
    srv.start()
    paused = False
    try:
        b = h.oss2_bucket(srv, h.unique_name("pause"), "v1")
        b.create_bucket()
        b.put_object("kms", b"k", headers=h.sse_headers("KMS"))
        b.put_object("plain", b"p")
        server.bao.pause()
        paused = True
        for call in (lambda: b.get_object("kms").read(),
                     lambda: b.put_object("new", b"n", headers=h.sse_headers("AES256"))):
            started = time.monotonic()
            with pytest.raises(oss2.exceptions.ServerError) as ei:
                call()
            assert time.monotonic() - started < 5
            h.assert_oss2_error(ei.value, 503, "KmsServiceUnavailable")
        assert b.get_object("plain").read() == b"p"
        server.bao.resume()
        paused = False
        assert b.get_object("kms").read() == b"k"
        b.put_object("new", b"n", headers=h.sse_headers("AES256"))
        assert b.get_object("new").read() == b"n"
    finally:
        if paused:
            server.bao.resume()
        srv.stop()
        shutil.rmtree(tmp, ignore_errors=True)


class _UnreachableVault:
    """A --vault-addr where nothing listens: the data directory without its key manager."""

    def __init__(self):
        self.addr = "http://127.0.0.1:%d" % free_port()

    def server_args(self):
        return ["--kms-backend", "vault", "--vault-addr", self.addr, "--vault-timeout-ms", "1000"]

    def server_env(self):
        return {"VAULT_TOKEN": ROOT_TOKEN}


def test_a_stolen_data_directory_reveals_nothing(server):
    """Objects written with the vault backend, their data directory then served by a fresh
    server that cannot reach the key manager: every encrypted object is refused with a KMS
    error (never plaintext, never a hang), plaintext objects still read. The same directory
    with OpenBao reachable again serves everything: the data was intact, only the key missing."""
    tmp = tempfile.mkdtemp(prefix="coffer-stolen-")
    try:
        secret = b"stolen-dir-" + secrets.token_hex(16).encode()
        writer = CofferServer(server.binary, tmp, server.bao)
        writer.start()
        try:
            b = h.oss2_bucket(writer, h.unique_name("stolen"), "v1")
            b.create_bucket()
            for method in ("KMS", "AES256", "SM4", "KMS+SM4"):
                b.put_object(method, secret, headers=h.sse_headers(method))
            b.put_object("plain", b"public")
        finally:
            writer.stop()
        for root, _, files in os.walk(writer.data_dir):
            for f in files:
                with open(os.path.join(root, f), "rb") as fh:
                    assert secret not in fh.read(), f

        thief = CofferServer(server.binary, tmp, _UnreachableVault())
        thief.access_key_secret = writer.access_key_secret
        thief.start()
        try:
            tb = h.oss2_bucket(thief, b.bucket_name, "v1")
            assert tb.get_object("plain").read() == b"public"
            for method in ("KMS", "AES256", "SM4", "KMS+SM4"):
                with pytest.raises(oss2.exceptions.ServerError) as ei:
                    tb.get_object(method).read()
                h.assert_oss2_error(ei.value, 503, "KmsServiceUnavailable")
                assert "key service" in ei.value.message
        finally:
            thief.stop()

        owner = CofferServer(server.binary, tmp, server.bao)
        owner.access_key_secret = writer.access_key_secret
        owner.start()
        try:
            ob = h.oss2_bucket(owner, b.bucket_name, "v1")
            for method in ("KMS", "AES256", "SM4", "KMS+SM4"):
                assert ob.get_object(method).read() == secret
        finally:
            owner.stop()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)



def test_ram_permissions_still_decide_coffer_kms_against_transit(server):
    """A RAM user may call on Transit keys only the kms: actions its policies allow, on the
    keys they name (acs:kms:*:*:key/<transit key name>), whichever backend serves them."""
    root = h.CofferCli(server)
    user = h.unique_name("kmsops")
    key = "ram-" + secrets.token_hex(4)
    root.run("kms", "create", "--name", key)
    root.create_user(user)
    policy = h.unique_name("describe-only")
    root.create_policy(policy, h.policy_doc(h.allow("kms:DescribeKey", "acs:kms:*:*:key/" + key)))
    root.attach(policy, user)
    ak, secret = root.create_key(user)
    cli = h.CofferCli(server)
    cli.env.update(OSS_ACCESS_KEY_ID=ak, OSS_ACCESS_KEY_SECRET=secret)
    assert cli.json("kms", "describe", key)["KeyId"] == key
    for denied in (("create", "--name", key + "-2"), ("rotate", key), ("delete-now", key),
                   ("describe", "coffer-default")):
        r = cli.run("kms", *denied, check=False)
        assert r.returncode == 1 and "AccessDenied" in r.stderr, (denied, r.stderr)
    assert "primary version 2" in root.run("kms", "rotate", key).stdout
    root.run("kms", "delete-now", key)


class _WrongCa:
    """An https OpenBao, with Coffer told to trust a CA that did not sign its certificate."""

    def __init__(self, bao, ca_path):
        self.bao, self.ca_path = bao, ca_path

    def server_args(self):
        return ["--kms-backend", "vault", "--vault-addr", self.bao.addr,
                "--vault-ca-cert", self.ca_path, "--vault-timeout-ms", "2000"]

    def server_env(self):
        return self.bao.server_env()


def test_https_openbao_with_its_ca_serves_sse_and_a_wrong_ca_fails_closed(server):
    """--vault-addr https://... with --vault-ca-cert: SSE-KMS and SSE-OSS round-trip. The same
    OpenBao with another CA: the server starts and says at start-up why Vault is not trusted,
    SSE requests get 503 from the KMS, and objects without SSE keep working."""
    tmp = tempfile.mkdtemp(prefix="coffer-vault-tls-")
    bao = OpenBao(tmp, tls=True)
    bao.start()
    try:
        good = CofferServer(server.binary, os.path.join(tmp, "good"), bao)
        good.start()
        try:
            b = h.oss2_bucket(good, h.unique_name("vtls"), "v1")
            b.create_bucket()
            for method in ("KMS", "AES256"):
                b.put_object(method, b"over tls", headers=h.sse_headers(method))
                assert b.get_object(method).read() == b"over tls"
        finally:
            good.stop()

        certs = os.path.join(tmp, "stranger")
        subprocess.run([server.binary, "cert", "self-signed", "--out", certs],
                       check=True, capture_output=True, timeout=30)
        wrong = CofferServer(server.binary, os.path.join(tmp, "wrong"),
                             _WrongCa(bao, os.path.join(certs, "ca.pem")))
        wrong.start()
        try:
            with open(wrong.log_path, encoding="utf-8", errors="replace") as f:
                log = f.read()
            assert "not trusted" in log and "--vault-ca-cert" in log, log[-2000:]
            wb = h.oss2_bucket(wrong, h.unique_name("vtls-wrong"), "v1")
            wb.create_bucket()
            for method in ("KMS", "AES256"):
                with pytest.raises(oss2.exceptions.ServerError) as ei:
                    wb.put_object(method, b"x", headers=h.sse_headers(method))
                h.assert_oss2_error(ei.value, 503, "KmsServiceUnavailable")
            wb.put_object("plain", b"p")
            assert wb.get_object("plain").read() == b"p"
        finally:
            wrong.stop()
    finally:
        bao.stop()
        shutil.rmtree(tmp, ignore_errors=True)
