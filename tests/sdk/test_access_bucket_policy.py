"""The bucket policy API (PutBucketPolicy / GetBucketPolicy / DeleteBucketPolicy) through
both SDKs, and bucket policies deciding for RAM users and the bucket owner
(docs/access-control.md, "How a request is decided" and "Principals").
"""
import json

import oss2
import pytest
import alibabacloud_oss_v2 as oss

import sdkhelpers as h


def _read_policy(bucket_name):
    return h.policy_doc(h.allow(["oss:GetObject"], h.bucket_arn(bucket_name, "*"),
                                principal=["*"]))


# ---------------------------------------------------------------- the API

def test_put_get_delete_oss2(o2, bucket_name):
    h.expect_error(o2.get_bucket_policy, 404, "NoSuchBucketPolicy")
    # odd but valid formatting: GetBucketPolicy returns the text exactly as put
    text = ('{\n  "Version":"1",\n\t"Statement": [ {"Sid": "ReadAll",  "Effect":"Allow",'
            '"Principal":["*"],"Action":["oss:GetObject"],'
            '"Resource":["acs:oss:*:*:%s/*"]} ]\n}\n' % bucket_name)
    r = o2.put_bucket_policy(text)
    assert r.status == 200
    assert h.REQUEST_ID_RE.match(r.request_id)
    got = o2.get_bucket_policy()
    assert got.status == 200
    assert got.policy == text
    # overwrite
    text2 = _read_policy(bucket_name)
    o2.put_bucket_policy(text2)
    assert o2.get_bucket_policy().policy == text2
    r = o2.delete_bucket_policy()
    assert r.status == 204
    h.expect_error(o2.get_bucket_policy, 404, "NoSuchBucketPolicy")
    # deleting when there is none is not an error
    assert o2.delete_bucket_policy().status == 204


def test_put_get_delete_v2(v2, bucket_name):
    h.expect_error(lambda: v2.get_bucket_policy(oss.GetBucketPolicyRequest(bucket=bucket_name)),
                   404, "NoSuchBucketPolicy")
    text = json.dumps({"Version": "1", "Statement": [{
        "Effect": "Deny", "Principal": ["*"], "Action": ["oss:PutObject"],
        "Resource": ["acs:oss:*:*:%s/*" % bucket_name],
        "Condition": {"StringNotEquals": {"oss:x-oss-server-side-encryption": "SM4"}}}]},
        indent=3)
    r = v2.put_bucket_policy(oss.PutBucketPolicyRequest(bucket=bucket_name, body=text))
    assert r.status_code == 200
    g = v2.get_bucket_policy(oss.GetBucketPolicyRequest(bucket=bucket_name))
    assert g.status_code == 200
    assert g.body == text
    r = v2.delete_bucket_policy(oss.DeleteBucketPolicyRequest(bucket=bucket_name))
    assert r.status_code == 204
    h.expect_error(lambda: v2.get_bucket_policy(oss.GetBucketPolicyRequest(bucket=bucket_name)),
                   404, "NoSuchBucketPolicy")


def test_policy_on_missing_bucket(server, fresh_name):
    b = h.oss2_bucket(server, fresh_name(), "v4")
    h.expect_error(lambda: b.put_bucket_policy(_read_policy(b.bucket_name)), 404, "NoSuchBucket")
    h.expect_error(b.get_bucket_policy, 404, "NoSuchBucket")


def test_policy_unaffected_by_other_config(o2, bucket_name):
    """Other bucket configuration calls leave the policy alone."""
    text = _read_policy(bucket_name)
    o2.put_bucket_policy(text)
    o2.put_bucket_acl(oss2.BUCKET_ACL_PUBLIC_READ)
    o2.put_bucket_encryption(oss2.models.ServerSideEncryptionRule("SM4"))
    o2.delete_bucket_encryption()
    assert o2.get_bucket_policy().policy == text


# ---------------------------------------------------------------- who may manage it

def test_policy_api_needs_permission(ram, server, bucket_name, sig):
    nobody = ram.user()
    manager = ram.user(h.policy_doc(h.allow(
        ["oss:PutBucketPolicy", "oss:GetBucketPolicy", "oss:DeleteBucketPolicy"],
        h.bucket_arn(bucket_name))))
    text = _read_policy(bucket_name)
    nb = nobody.bucket(bucket_name, sig)
    h.expect_error(lambda: nb.put_bucket_policy(text), 403, "AccessDenied")
    h.expect_error(nb.get_bucket_policy, 403, "AccessDenied")
    h.expect_error(nb.delete_bucket_policy, 403, "AccessDenied")
    mb = manager.bucket(bucket_name, sig)
    h.expect_error(mb.get_bucket_policy, 404, "NoSuchBucketPolicy")
    mb.put_bucket_policy(text)
    assert mb.get_bucket_policy().policy == text
    # a bucket policy that is public-read for objects grants nobody the policy API
    h.expect_error(nb.get_bucket_policy, 403, "AccessDenied")
    assert mb.delete_bucket_policy().status == 204


# ---------------------------------------------------------------- bucket policies decide

@pytest.mark.parametrize("by", ["id", "name"])
def test_user_allowed_only_by_bucket_policy(ram, server, bucket_name, sig, by):
    reader = ram.user()
    other = ram.user()
    root = h.oss2_bucket(server, bucket_name, "v1")
    root.put_object("doc", b"shared")
    root.put_object("enc", b"sm4", headers=h.sse_headers("SM4"))
    rb = reader.bucket(bucket_name, sig)
    h.expect_error(lambda: rb.get_object("doc"), 403, "AccessDenied")

    principal = reader.id if by == "id" else reader.name
    assert principal, "no UserId from `coffer admin user create`"
    root.put_bucket_policy(h.policy_doc(
        h.allow(["oss:GetObject"], h.bucket_arn(bucket_name, "*"), principal=[principal]),
        h.allow(["oss:ListObjects"], h.bucket_arn(bucket_name), principal=[principal])))
    assert rb.get_object("doc").read() == b"shared"
    assert rb.get_object("enc").read() == b"sm4"
    assert sorted(o.key for o in rb.list_objects().object_list) == ["doc", "enc"]
    c = reader.v2(sig)
    assert c.get_object(oss.GetObjectRequest(bucket=bucket_name, key="doc")).body.read() \
        == b"shared"
    # only what the policy grants
    h.expect_error(lambda: rb.put_object("new", b"x"), 403, "AccessDenied")
    h.expect_error(lambda: rb.delete_object("doc"), 403, "AccessDenied")
    h.expect_error(rb.get_bucket_encryption, 403, "AccessDenied")
    # only to whom it names
    h.expect_error(lambda: other.bucket(bucket_name, sig).get_object("doc"), 403,
                   "AccessDenied")
    anon = oss2.Bucket(oss2.AnonymousAuth(), server.endpoint, bucket_name, region=h.REGION)
    h.expect_error(lambda: anon.get_object("doc"), 403, "AccessDenied")


def test_bucket_policy_deny_beats_ram_allow(ram, server, bucket_name, sig):
    user = ram.user(h.policy_doc(h.allow("oss:*", "*")))
    root = h.oss2_bucket(server, bucket_name, "v1")
    root.put_object("a", b"a")
    ub = user.bucket(bucket_name, sig)
    assert ub.get_object("a").read() == b"a"
    root.put_bucket_policy(h.policy_doc(h.deny(["oss:GetObject"], h.bucket_arn(bucket_name, "*"),
                                               principal=[user.id])))
    h.expect_error(lambda: ub.get_object("a"), 403, "AccessDenied")
    ub.put_object("b", b"b")  # other actions unaffected
    assert root.get_object("b").read() == b"b"


def test_star_principal_and_the_owner(server, ram, bucket_name, sig):
    """A "*" statement without a condition does not apply to the bucket owner; with a
    condition it applies to everyone, the owner included. An explicit Deny wins against
    root too."""
    user = ram.user(h.policy_doc(h.allow("oss:*", "*")))
    root = h.oss2_bucket(server, bucket_name, sig)
    root.put_object("o", b"o")
    ub = user.bucket(bucket_name, sig)

    root.put_bucket_policy(h.policy_doc(h.deny("oss:GetObject", h.bucket_arn(bucket_name, "*"),
                                               principal=["*"])))
    assert root.get_object("o").read() == b"o"
    h.expect_error(lambda: ub.get_object("o"), 403, "AccessDenied")

    root.put_bucket_policy(h.policy_doc(h.deny(
        "oss:GetObject", h.bucket_arn(bucket_name, "*"), principal=["*"],
        condition={"IpAddress": {"acs:SourceIp": "127.0.0.0/8"}})))
    h.expect_error(lambda: root.get_object("o"), 403, "AccessDenied")
    h.expect_error(lambda: ub.get_object("o"), 403, "AccessDenied")
    # the owner can still manage the policy (only GetObject is denied)
    assert root.delete_bucket_policy().status == 204
    assert root.get_object("o").read() == b"o"


# ---------------------------------------------------------------- what OSS accepts

def _arn_in(account, bucket, key_pattern=None):
    """A resource ARN naming an account, as OSS policies written for a real account do."""
    tail = bucket if key_pattern is None else "%s/%s" % (bucket, key_pattern)
    return "acs:oss:*:%s:%s" % (account, tail)


def _anon_get(server, bucket_name, sig, key):
    """GetObject with no credentials, through both SDKs; returns both bodies."""
    anon = oss2.Bucket(oss2.AnonymousAuth(), server.endpoint, bucket_name, region=h.REGION)
    c = h.v2_client(server, sig, anonymous=True)
    return (anon.get_object(key).read(),
            c.get_object(oss.GetObjectRequest(bucket=bucket_name, key=key)).body.read())


def _anon_get_refused(server, bucket_name, sig, key):
    anon = oss2.Bucket(oss2.AnonymousAuth(), server.endpoint, bucket_name, region=h.REGION)
    h.expect_error(lambda: anon.get_object(key), 403, "AccessDenied")
    c = h.v2_client(server, sig, anonymous=True)
    h.expect_error(lambda: c.get_object(oss.GetObjectRequest(bucket=bucket_name, key=key)),
                   403, "AccessDenied")


def test_statement_without_principal_applies_to_everyone(server, ram, bucket_name, sig):
    """As on OSS, a bucket policy statement with no Principal is accepted and means "*":
    anonymous callers and RAM users alike, but (without a condition) not the owner."""
    root = h.oss2_bucket(server, bucket_name, sig)
    root.put_object("pub/a", b"public")
    root.put_object("priv/a", b"private")
    _anon_get_refused(server, bucket_name, sig, "pub/a")

    text = h.policy_doc(h.allow(["oss:GetObject"], h.bucket_arn(bucket_name, "pub/*")))
    assert "Principal" not in text
    assert root.put_bucket_policy(text).status == 200
    assert root.get_bucket_policy().policy == text
    assert _anon_get(server, bucket_name, sig, "pub/a") == (b"public", b"public")
    _anon_get_refused(server, bucket_name, sig, "priv/a")
    nobody = ram.user()
    assert nobody.bucket(bucket_name, sig).get_object("pub/a").read() == b"public"

    # a Deny without Principal: everyone but the owner (no condition)
    user = ram.user(h.policy_doc(h.allow("oss:*", "*")))
    v2 = h.v2_client(server, sig)
    r = v2.put_bucket_policy(oss.PutBucketPolicyRequest(bucket=bucket_name, body=h.policy_doc(
        h.deny(["oss:GetObject"], h.bucket_arn(bucket_name, "*")))))
    assert r.status_code == 200
    h.expect_error(lambda: user.bucket(bucket_name, sig).get_object("priv/a"), 403,
                   "AccessDenied")
    h.expect_error(lambda: user.v2(sig).get_object(
        oss.GetObjectRequest(bucket=bucket_name, key="priv/a")), 403, "AccessDenied")
    assert root.get_object("priv/a").read() == b"private"


def test_resource_with_the_owner_account_id(server, ram, bucket_name, sig):
    """`acs:oss:*:<account>:bucket/*` matches when <account> is the bucket owner's id (as
    GetBucketInfo reports it) or `*`; a resource naming another account does not match."""
    root = h.oss2_bucket(server, bucket_name, sig)
    root.put_object("k", b"data")
    account = root.get_bucket_info().owner.id
    assert account
    other_account = "1746495857602745"
    assert other_account != account

    # bucket policy, anonymous reader
    root.put_bucket_policy(h.policy_doc(h.allow(
        ["oss:GetObject"], _arn_in(other_account, bucket_name, "*"), principal=["*"])))
    _anon_get_refused(server, bucket_name, sig, "k")
    for acct in (account, "*"):
        root.put_bucket_policy(h.policy_doc(
            h.allow(["oss:GetObject"], _arn_in(acct, bucket_name, "*"), principal=["*"]),
            h.allow(["oss:ListObjects"], _arn_in(acct, bucket_name), principal=["*"])))
        assert _anon_get(server, bucket_name, sig, "k") == (b"data", b"data")
        anon = oss2.Bucket(oss2.AnonymousAuth(), server.endpoint, bucket_name, region=h.REGION)
        assert [o.key for o in anon.list_objects().object_list] == ["k"]
    root.delete_bucket_policy()

    # a Deny naming another account does not reach this bucket
    user = ram.user(h.policy_doc(h.allow("oss:*", "*")))
    root.put_bucket_policy(h.policy_doc(h.deny(
        ["oss:GetObject"], _arn_in(other_account, bucket_name, "*"), principal=[user.id])))
    assert user.bucket(bucket_name, sig).get_object("k").read() == b"data"
    root.put_bucket_policy(h.policy_doc(h.deny(
        ["oss:GetObject"], _arn_in(account, bucket_name, "*"), principal=[user.id])))
    h.expect_error(lambda: user.bucket(bucket_name, sig).get_object("k"), 403, "AccessDenied")
    root.delete_bucket_policy()

    # RAM policies match resources the same way
    mine = ram.user(h.policy_doc(h.allow(["oss:GetObject"], _arn_in(account, bucket_name, "*"))))
    theirs = ram.user(h.policy_doc(h.allow(["oss:GetObject"],
                                           _arn_in(other_account, bucket_name, "*"))))
    assert mine.bucket(bucket_name, sig).get_object("k").read() == b"data"
    assert mine.v2(sig).get_object(
        oss.GetObjectRequest(bucket=bucket_name, key="k")).body.read() == b"data"
    h.expect_error(lambda: theirs.bucket(bucket_name, sig).get_object("k"), 403, "AccessDenied")
    h.expect_error(lambda: theirs.v2(sig).get_object(
        oss.GetObjectRequest(bucket=bucket_name, key="k")), 403, "AccessDenied")
