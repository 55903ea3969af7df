"""CMK lifecycle through the admin CLI (`coffer kms ...`), observed through the OSS API
(reference §2.5, §7.1 - §7.3): named CMKs, Disabled / PendingDeletion / deleted keys,
rotation, aliases and usage counters.

The CLI talks to the server's admin listener:

    $COFFER_BIN kms <subcommand> ... --admin-endpoint http://127.0.0.1:<admin port> [--json]

with the root credentials in OSS_ACCESS_KEY_ID / OSS_ACCESS_KEY_SECRET.

The whole module is skipped if (and only if) the binary has no `kms` subcommand
(`$COFFER_BIN kms --help` fails).
"""
import json
import os
import secrets
import subprocess
import uuid
from pathlib import Path

import oss2
import pytest
import alibabacloud_oss_v2 as oss

import sdkhelpers as h

REPO_ROOT = Path(__file__).resolve().parents[2]


def _coffer_bin():
    # same resolution as conftest._coffer_bin
    p = Path(os.environ.get("COFFER_BIN") or str(REPO_ROOT / "target" / "debug" / "coffer"))
    return p if p.is_absolute() else REPO_ROOT / p


def _has_kms_cli():
    try:
        r = subprocess.run([str(_coffer_bin()), "kms", "--help"], capture_output=True,
                           timeout=30, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return r.returncode == 0


pytestmark = pytest.mark.skipif(not _has_kms_cli(),
                                reason="%s has no `kms` subcommand" % _coffer_bin())


class KmsCli:
    """Runs `coffer kms ...` against the test server's admin listener."""

    def __init__(self, server):
        self.server = server
        self.binary = str(_coffer_bin())
        self.env = dict(os.environ, OSS_ACCESS_KEY_ID=server.access_key_id,
                        OSS_ACCESS_KEY_SECRET=server.access_key_secret,
                        COFFER_REGION=h.REGION)
        self._endpoint_first = None  # where --admin-endpoint goes; found on first call

    def _argv(self, args, endpoint_first):
        ep = ["--admin-endpoint", self.server.admin_endpoint]
        return [self.binary, "kms"] + (ep + list(args) if endpoint_first else list(args) + ep)

    def run(self, *args, check=True):
        """Run a subcommand; returns CompletedProcess (text). With check, a non-zero exit
        fails the test with the command's output."""
        orders = [self._endpoint_first] if self._endpoint_first is not None else [False, True]
        for endpoint_first in orders:
            argv = self._argv(args, endpoint_first)
            r = subprocess.run(argv, capture_output=True, text=True, env=self.env,
                               timeout=30, stdin=subprocess.DEVNULL)
            misplaced = (r.returncode == 2 and "--admin-endpoint" in r.stderr
                         and ("unexpected argument" in r.stderr or "unrecognized" in r.stderr))
            if not misplaced:
                self._endpoint_first = endpoint_first
                break
        if check:
            assert r.returncode == 0, "%s -> exit %s\nstdout: %s\nstderr: %s" % (
                " ".join(argv), r.returncode, r.stdout, r.stderr)
        return r

    def json(self, *args):
        r = self.run(*(list(args) + ["--json"]))
        try:
            return json.loads(r.stdout)
        except ValueError:
            pytest.fail("`coffer kms %s --json` printed no JSON: %r" % (" ".join(args), r.stdout))

    def create(self, description=None):
        args = ["create"] + (["--description", description] if description else [])
        out = self.json(*args)
        key_id = out.get("KeyId") or (out.get("KeyMetadata") or {}).get("KeyId")
        assert key_id, out
        return key_id

    def describe(self, key):
        out = self.json("describe", key)
        return out.get("KeyMetadata", out)

    def state(self, key):
        return self.describe(key)["KeyState"]

    def usage(self, key):
        u = self.describe(key)["Usage"]
        return u["GenerateDataKey"], u["Decrypt"]


@pytest.fixture(scope="module")
def kms(server):
    return KmsCli(server)


@pytest.fixture
def cmk(kms):
    """A fresh, enabled CMK."""
    return kms.create(description="sdk test key")


def _kms(key_id, sm4=False):
    hd = {h.SSE_HDR: "KMS", h.SSE_KEY_HDR: key_id}
    if sm4:
        hd[h.SSE_DATA_HDR] = "SM4"
    return hd


def _assert_get_fails(bucket, key, status, code, data=None):
    with pytest.raises(oss2.exceptions.ServerError) as ei:
        bucket.get_object(key).read()
    h.assert_oss2_error(ei.value, status, code)
    if data is not None:
        assert data[:64] not in (ei.value.body or b"")
    return ei.value


def _assert_put_fails(bucket, key, headers, status, code):
    with pytest.raises(oss2.exceptions.ServerError) as ei:
        bucket.put_object(key, b"new data", headers=headers)
    h.assert_oss2_error(ei.value, status, code)


# ---------------------------------------------------------------- basics

def test_cli_create_describe_list(kms):
    desc = "described-" + secrets.token_hex(4)
    key = kms.create(description=desc)
    d = kms.describe(key)
    assert d["KeyId"] == key
    assert d["KeyState"] == "Enabled"
    assert d["PrimaryKeyVersion"] == 1
    assert d["Aliases"] == []
    assert (d["Usage"]["GenerateDataKey"], d["Usage"]["Decrypt"]) == (0, 0)
    assert desc in json.dumps(d)
    assert key in kms.run("list", "--json").stdout
    # plain output of create is the key id alone
    plain = kms.run("create").stdout.strip()
    assert plain and plain != key
    assert kms.describe(plain)["KeyState"] == "Enabled"


def test_cli_unknown_key_fails(kms):
    missing = str(uuid.uuid4())
    for args in (["describe", missing], ["enable", missing], ["disable", missing],
                 ["rotate", missing], ["usage", missing]):
        r = kms.run(*args, check=False)
        assert r.returncode != 0, args


def test_named_cmk_put_get(o2, kms, cmk, bucket_name):
    data = h.rand_bytes(70000)
    r = o2.put_object("k", data, headers=_kms(cmk))
    h.assert_sse(r.headers, "KMS", cmk, what="PUT with named CMK")
    r = o2.put_object("k-sm4", data, headers=_kms(cmk, sm4=True))
    h.assert_sse(r.headers, "KMS+SM4", cmk)
    for key, m in (("k", "KMS"), ("k-sm4", "KMS+SM4")):
        g = o2.get_object(key)
        assert g.read() == data
        h.assert_sse(g.headers, m, cmk, what="GET " + key)
        h.assert_sse(o2.head_object(key).headers, m, cmk, what="HEAD " + key)
    # as the bucket default, and via multipart / append / copy
    o2.put_bucket_encryption(oss2.models.ServerSideEncryptionRule("KMS", cmk))
    h.assert_sse(o2.put_object("d", data).headers, "KMS", cmk, what="bucket default CMK")
    init = o2.init_multipart_upload("mp", headers=_kms(cmk))
    h.assert_sse(init.headers, "KMS", cmk)
    p = o2.upload_part("mp", init.upload_id, 1, data)
    h.assert_sse(p.headers, "KMS", cmk)
    o2.complete_multipart_upload("mp", init.upload_id, [oss2.models.PartInfo(1, p.etag)])
    h.assert_sse(o2.append_object("ap", 0, data, headers=_kms(cmk)).headers, "KMS", cmk)
    h.assert_sse(o2.copy_object(bucket_name, "k", "cp", headers=_kms(cmk, sm4=True)).headers,
                 "KMS+SM4", cmk)
    for key in ("d", "mp", "ap", "cp"):
        g = o2.get_object(key)
        assert g.read() == data, key
        assert h.hget(g.headers, h.SSE_KEY_HDR) == cmk, key


def test_v2_named_cmk(server, kms, cmk, bucket_name):
    v2 = h.v2_client(server, "v4")
    v2.put_object(oss.PutObjectRequest(bucket=bucket_name, key="k", body=b"v2 data",
                                       **h.sse_v2_kwargs("KMS+SM4", cmk)))
    g = v2.get_object(oss.GetObjectRequest(bucket=bucket_name, key="k"))
    assert g.body.read() == b"v2 data"
    h.assert_sse_v2(g, "KMS+SM4", cmk)


# ---------------------------------------------------------------- disable / enable

def test_disable_enable(server, o2_admin, kms, cmk, bucket_name, make_bucket):
    data = h.rand_bytes(70000)
    o2_admin.put_object("k", data, headers=_kms(cmk))
    o2_admin.put_object("other", data, headers=h.sse_headers("KMS"))  # default CMK
    o2_admin.put_object("aes", data, headers=h.sse_headers("AES256"))
    defb = make_bucket(prefix="def")
    db = h.oss2_bucket(server, defb)
    db.put_bucket_encryption(oss2.models.ServerSideEncryptionRule("KMS", cmk))

    kms.run("disable", cmk)
    assert kms.state(cmk) == "Disabled"

    # reads need the key: 409 KeyDisabled (§2.5, §7.2), also for ranges, v2 and copy sources
    _assert_get_fails(o2_admin, "k", 409, "KeyDisabled", data)
    with pytest.raises(oss2.exceptions.ServerError) as ei:
        o2_admin.get_object("k", byte_range=(10, 20))
    h.assert_oss2_error(ei.value, 409, "KeyDisabled")
    v2 = h.v2_client(server, "v4")
    with pytest.raises(oss.exceptions.OperationError) as ei:
        v2.get_object(oss.GetObjectRequest(bucket=bucket_name, key="k"))
    h.assert_v2_error(ei, 409, "KeyDisabled")
    with pytest.raises(oss2.exceptions.ServerError) as ei:
        o2_admin.copy_object(bucket_name, "k", "copy")
    h.assert_oss2_error(ei.value, 409, "KeyDisabled")
    assert o2_admin.object_exists("copy") is False

    # HEAD needs no key: metadata is not encrypted (§2.2)
    hd = o2_admin.head_object("k")
    h.assert_sse(hd.headers, "KMS", cmk, what="HEAD while disabled")
    assert hd.content_length == len(data)
    # listing still works
    assert "k" in [o.key for o in o2_admin.list_objects().object_list]

    # writes with the key: 409 KeyDisabled, nothing stored
    _assert_put_fails(o2_admin, "new", _kms(cmk), 409, "KeyDisabled")
    assert o2_admin.object_exists("new") is False
    with pytest.raises(oss2.exceptions.ServerError) as ei:
        o2_admin.copy_object(bucket_name, "aes", "copy2", headers=_kms(cmk))
    h.assert_oss2_error(ei.value, 409, "KeyDisabled")
    with pytest.raises(oss2.exceptions.ServerError) as ei:
        db.put_object("via-default", b"x")
    h.assert_oss2_error(ei.value, 409, "KeyDisabled")

    # other keys are unaffected
    assert o2_admin.get_object("other").read() == data
    assert o2_admin.get_object("aes").read() == data

    kms.run("enable", cmk)
    assert kms.state(cmk) == "Enabled"
    g = o2_admin.get_object("k")
    assert g.read() == data
    h.assert_sse(g.headers, "KMS", cmk)
    h.assert_sse(o2_admin.put_object("new", b"ok", headers=_kms(cmk)).headers, "KMS", cmk)
    h.assert_sse(db.put_object("via-default", b"x").headers, "KMS", cmk)


# ---------------------------------------------------------------- scheduled deletion

def test_schedule_and_cancel_deletion(o2_admin, kms, cmk):
    data = h.rand_bytes(5000)
    o2_admin.put_object("k", data, headers=_kms(cmk, sm4=True))

    kms.run("schedule-deletion", cmk, "--days", "7")
    assert kms.state(cmk) == "PendingDeletion"
    _assert_get_fails(o2_admin, "k", 409, "KeyPendingDeletion", data)
    _assert_put_fails(o2_admin, "new", _kms(cmk), 409, "KeyPendingDeletion")
    h.assert_sse(o2_admin.head_object("k").headers, "KMS+SM4", cmk)

    # cancel leaves the key Disabled, as in Alibaba Cloud KMS
    kms.run("cancel-deletion", cmk)
    assert kms.state(cmk) == "Disabled"
    _assert_get_fails(o2_admin, "k", 409, "KeyDisabled", data)

    kms.run("enable", cmk)
    g = o2_admin.get_object("k")
    assert g.read() == data
    h.assert_sse(g.headers, "KMS+SM4", cmk)


@pytest.mark.parametrize("days", ["6", "31", "0"])
def test_schedule_deletion_window_validated(kms, cmk, days):
    r = kms.run("schedule-deletion", cmk, "--days", days, check=False)
    assert r.returncode != 0
    assert kms.state(cmk) == "Enabled"


def test_schedule_deletion_window_bounds_accepted(kms):
    for days in ("7", "30"):
        key = kms.create()
        kms.run("schedule-deletion", key, "--days", days)
        assert kms.state(key) == "PendingDeletion"


def test_delete_now_destroys_key(o2_admin, kms, cmk, bucket_name):
    data = h.rand_bytes(70000)
    o2_admin.put_object("k", data, headers=_kms(cmk))
    o2_admin.put_object("kept", data, headers=h.sse_headers("KMS+SM4"))

    # delete-now is only for keys pending deletion
    r = kms.run("delete-now", cmk, check=False)
    assert r.returncode != 0
    assert kms.state(cmk) == "Enabled"
    assert o2_admin.get_object("k").read() == data

    kms.run("schedule-deletion", cmk, "--days", "7")
    kms.run("delete-now", cmk)

    # the object's data is now unrecoverable: a 4xx naming the key, and no bytes
    for get in (lambda: o2_admin.get_object("k").read(),
                lambda: o2_admin.get_object("k", byte_range=(0, 99)).read()):
        with pytest.raises(oss2.exceptions.ServerError) as ei:
            get()
        err = ei.value
        assert 400 <= err.status < 500, err
        assert "key" in (err.code or "").lower(), err
        assert data[:64] not in (err.body or b"")
    # listing still works, and other objects are fine
    assert sorted(o.key for o in o2_admin.list_objects().object_list) == ["k", "kept"]
    assert o2_admin.get_object("kept").read() == data
    # the key cannot encrypt any more either
    with pytest.raises(oss2.exceptions.ServerError) as ei:
        o2_admin.put_object("new", b"x", headers=_kms(cmk))
    assert 400 <= ei.value.status < 500 and "key" in ei.value.code.lower()
    # the dead object can still be deleted
    o2_admin.delete_object("k")
    assert o2_admin.object_exists("k") is False


# ---------------------------------------------------------------- rotation

def test_rotate(o2_admin, kms, cmk):
    old = h.rand_bytes(70000)
    o2_admin.put_object("old", old, headers=_kms(cmk))
    assert kms.describe(cmk)["PrimaryKeyVersion"] == 1

    kms.run("rotate", cmk)
    d = kms.describe(cmk)
    assert d["PrimaryKeyVersion"] == 2
    assert d["KeyState"] == "Enabled"

    new = h.rand_bytes(70000)
    r = o2_admin.put_object("new", new, headers=_kms(cmk, sm4=True))
    # the key id reported is the CMK id, not a version
    h.assert_sse(r.headers, "KMS+SM4", cmk)
    for key, data in (("old", old), ("new", new)):
        g = o2_admin.get_object(key)
        assert g.read() == data, key
        assert h.hget(g.headers, h.SSE_KEY_HDR) == cmk

    kms.run("rotate", cmk)
    assert kms.describe(cmk)["PrimaryKeyVersion"] == 3
    assert o2_admin.get_object("old").read() == old
    assert o2_admin.get_object("new").read() == new


# ---------------------------------------------------------------- aliases

def test_alias(o2_admin, kms, cmk, bucket_name):
    alias = "alias/sdk-" + secrets.token_hex(4)
    kms.run("alias", "create", alias, cmk)
    assert alias in kms.describe(cmk)["Aliases"]
    assert alias in kms.run("alias", "list", "--json").stdout

    data = h.rand_bytes(5000)
    r = o2_admin.put_object("via-alias", data, headers=_kms(alias))
    # the response names the resolved CMK id
    h.assert_sse(r.headers, "KMS", cmk, what="PUT with alias")
    g = o2_admin.get_object("via-alias")
    assert g.read() == data
    h.assert_sse(g.headers, "KMS", cmk)

    # as a bucket default: GetBucketEncryption keeps the alias verbatim, objects get the CMK
    o2_admin.put_bucket_encryption(oss2.models.ServerSideEncryptionRule("KMS", alias, "SM4"))
    assert o2_admin.get_bucket_encryption().kms_master_keyid == alias
    h.assert_sse(o2_admin.put_object("via-default", data).headers, "KMS+SM4", cmk)

    kms.run("alias", "delete", alias)
    assert alias not in kms.describe(cmk)["Aliases"]
    # objects written through the alias stay readable (they reference the CMK)
    assert o2_admin.get_object("via-alias").read() == data
    # §2.5: an unknown alias -> 404 AliasNotFound
    _assert_put_fails(o2_admin, "again", _kms(alias), 404, "AliasNotFound")


def test_alias_of_disabled_key(o2_admin, kms, cmk):
    alias = "alias/sdk-" + secrets.token_hex(4)
    kms.run("alias", "create", alias, cmk)
    kms.run("disable", cmk)
    _assert_put_fails(o2_admin, "x", _kms(alias), 409, "KeyDisabled")
    kms.run("enable", cmk)
    h.assert_sse(o2_admin.put_object("x", b"x", headers=_kms(alias)).headers, "KMS", cmk)


# ---------------------------------------------------------------- usage counters

def test_usage_counters(o2_admin, kms, cmk):
    assert kms.usage(cmk) == (0, 0)
    data = h.rand_bytes(70000)
    o2_admin.put_object("a", data, headers=_kms(cmk))
    o2_admin.put_object("b", data, headers=_kms(cmk, sm4=True))
    # one GenerateDataKey per KMS PUT
    assert kms.usage(cmk) == (2, 0)

    # one Decrypt per GET (whole or ranged); HEAD needs no key
    o2_admin.get_object("a").read()
    o2_admin.get_object("b").read()
    o2_admin.get_object("a", byte_range=(100, 70000 - 100)).read()
    o2_admin.head_object("a")
    o2_admin.head_object("b")
    assert kms.usage(cmk) == (2, 3)

    # `usage KEY` reports the same counters
    u = kms.json("usage", cmk)
    u = u.get("Usage", u)
    assert (u["GenerateDataKey"], u["Decrypt"]) == (2, 3)

    # objects under other keys do not count
    o2_admin.put_object("c", data, headers=h.sse_headers("KMS"))
    o2_admin.get_object("c").read()
    o2_admin.put_object("d", data, headers=h.sse_headers("SM4"))
    assert kms.usage(cmk) == (2, 3)
