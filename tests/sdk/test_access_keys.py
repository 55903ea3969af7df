"""RAM users' AccessKeys and policy attachments take effect on the very next request, on
any connection (docs/access-control.md, "Identities"): `coffer admin key disable / enable /
delete`, `policy attach / detach`, `user delete`, observed through an oss2 Bucket (and a
v2 client) that keeps its keep-alive connection open across the change.
"""
import json

import pytest
import alibabacloud_oss_v2 as oss

import sdkhelpers as h


@pytest.fixture(scope="module")
def kbucket(module_bucket):
    return module_bucket(prefix="acc-keys")


def _rw_policy(bucket):
    return h.policy_doc(h.allow(["oss:PutObject", "oss:GetObject", "oss:ListObjects"],
                                [h.bucket_arn(bucket), h.bucket_arn(bucket, "*")]))


def _keys(cli, user):
    return {k["AccessKeyId"]: k["Status"]
            for k in cli.json("admin", "key", "list", user.name)["AccessKeys"]}


def test_disable_enable_delete_key(server, cli, ram, kbucket, sig):
    user = ram.user(_rw_policy(kbucket))
    b = user.bucket(kbucket, sig)  # one oss2 Bucket: one session, keep-alive connections
    c = user.v2(sig)
    b.put_object("k-" + sig, b"v1")
    assert b.get_object("k-" + sig).read() == b"v1"
    c.get_object(oss.GetObjectRequest(bucket=kbucket, key="k-" + sig)).body.read()
    assert _keys(cli, user) == {user.ak: "Active"}

    cli.run("admin", "key", "disable", user.name, user.ak)
    assert _keys(cli, user) == {user.ak: "Inactive"}
    h.expect_error(lambda: b.get_object("k-" + sig), 403, "InvalidAccessKeyId")
    h.expect_error(lambda: b.put_object("k-" + sig, b"v2"), 403, "InvalidAccessKeyId")
    h.expect_error(lambda: c.get_object(oss.GetObjectRequest(bucket=kbucket, key="k-" + sig)),
                   403, "InvalidAccessKeyId")
    # nothing was written while the key was disabled
    assert h.oss2_bucket(server, kbucket).get_object("k-" + sig).read() == b"v1"

    cli.run("admin", "key", "enable", user.name, user.ak)
    assert _keys(cli, user) == {user.ak: "Active"}
    assert b.get_object("k-" + sig).read() == b"v1"
    b.put_object("k-" + sig, b"v2")
    assert c.get_object(oss.GetObjectRequest(bucket=kbucket, key="k-" + sig)).body.read() == b"v2"

    cli.run("admin", "key", "delete", user.name, user.ak)
    assert _keys(cli, user) == {}
    h.expect_error(lambda: b.get_object("k-" + sig), 403, "InvalidAccessKeyId")
    h.expect_error(lambda: c.get_object(oss.GetObjectRequest(bucket=kbucket, key="k-" + sig)),
                   403, "InvalidAccessKeyId")
    # a deleted key cannot be re-enabled
    r = cli.run("admin", "key", "enable", user.name, user.ak, check=False)
    assert r.returncode != 0
    h.expect_error(lambda: b.get_object("k-" + sig), 403, "InvalidAccessKeyId")


def test_second_key_unaffected(cli, ram, kbucket):
    user = ram.user(_rw_policy(kbucket))
    ak2, sk2 = cli.create_key(user.name)
    b1 = user.bucket(kbucket, "v4")
    b2 = h.oss2_bucket(user.server, kbucket, "v4", ak=ak2, sk=sk2)
    b1.put_object("two-keys", b"x")
    assert b2.get_object("two-keys").read() == b"x"
    cli.run("admin", "key", "disable", user.name, user.ak)
    h.expect_error(lambda: b1.get_object("two-keys"), 403, "InvalidAccessKeyId")
    assert b2.get_object("two-keys").read() == b"x"
    # at most two keys per user
    r = cli.run("admin", "key", "create", user.name, check=False)
    assert r.returncode != 0
    assert set(_keys(cli, user)) == {user.ak, ak2}


def test_key_of_another_user_cannot_be_changed(cli, ram, kbucket):
    alice = ram.user(_rw_policy(kbucket))
    bob = ram.user()
    for verb in ("disable", "delete"):
        r = cli.run("admin", "key", verb, bob.name, alice.ak, check=False)
        assert r.returncode != 0, verb
    assert _keys(cli, alice) == {alice.ak: "Active"}
    alice.bucket(kbucket, "v1").put_object("alice", b"a")


def test_detach_and_attach_take_effect(cli, ram, kbucket, sig):
    user = ram.user()
    b = user.bucket(kbucket, sig)
    h.expect_error(lambda: b.put_object("att-" + sig, b"x"), 403, "AccessDenied")
    policy = ram.attach(user, _rw_policy(kbucket))
    listed = cli.json("admin", "policy", "list-for", user.name)["Policies"]
    assert [p["PolicyName"] for p in listed] == [policy]
    b.put_object("att-" + sig, b"x")
    assert b.get_object("att-" + sig).read() == b"x"
    cli.detach(policy, user.name)
    h.expect_error(lambda: b.get_object("att-" + sig), 403, "AccessDenied")
    # an attached policy cannot be deleted
    cli.attach(policy, user.name)
    r = cli.delete_policy(policy, check=False)
    assert r.returncode != 0
    assert b.get_object("att-" + sig).read() == b"x"


def test_deleted_user_is_refused(cli, ram, kbucket):
    user = ram.user(_rw_policy(kbucket))
    b = user.bucket(kbucket, "v4")
    b.put_object("deleted-user", b"x")
    cli.delete_user(user.name)
    h.expect_error(lambda: b.get_object("deleted-user"), 403, "InvalidAccessKeyId")
    names = [u["UserName"] for u in cli.json("admin", "user", "list")["Users"]]
    assert user.name not in names


def test_cli_output_forms(cli, ram):
    """`key create` prints the pair (plain: `AccessKeyId: ...` lines; --json: the
    AccessKey object); the secret is never listed again."""
    user = ram.user()
    r = cli.run("admin", "key", "create", user.name)
    fields = dict(line.split(":", 1) for line in r.stdout.strip().splitlines())
    ak, sk = fields["AccessKeyId"].strip(), fields["AccessKeySecret"].strip()
    assert ak and sk and ak != user.ak
    listing = cli.run("admin", "key", "list", user.name, "--json").stdout
    assert ak in listing and user.ak in listing
    assert sk not in listing and user.sk not in listing
    assert "AccessKeySecret" not in json.loads(listing)["AccessKeys"][0]
    got = cli.json("admin", "user", "get", user.name)["User"]
    assert got["UserName"] == user.name and got["UserId"] == user.id
