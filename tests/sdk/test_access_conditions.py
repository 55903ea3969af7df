"""Policy conditions (docs/access-control.md, "Condition keys"): acs:SourceIp, oss:Prefix,
acs:CurrentTime in RAM policies, and bucket policies that require server-side encryption
(Coffer's oss:x-oss-server-side-encryption and oss:x-oss-server-side-encryption-key-id keys)
for everyone, the bucket owner included.
"""
import oss2
import pytest
import alibabacloud_oss_v2 as oss

import sdkhelpers as h

Rule = oss2.models.ServerSideEncryptionRule


@pytest.fixture(scope="module")
def cbucket(module_bucket, server):
    name = module_bucket(prefix="acc-cond")
    root = h.oss2_bucket(server, name, "v1")
    for key in ("obj", "team/a", "team/b", "other/c"):
        root.put_object(key, b"data of " + key.encode())
    return name


def _get_obj(arn_bucket, condition):
    return h.policy_doc(h.allow("oss:GetObject", h.bucket_arn(arn_bucket, "*"),
                                condition=condition))


# ---------------------------------------------------------------- acs:SourceIp

def test_source_ip(ram, cbucket, sig):
    inside = ram.user(_get_obj(cbucket, {"IpAddress": {"acs:SourceIp": ["127.0.0.1/32"]}}))
    outside = ram.user(_get_obj(cbucket, {"IpAddress": {"acs:SourceIp": ["10.0.0.0/8"]}}))
    negated = ram.user(_get_obj(cbucket, {"NotIpAddress": {"acs:SourceIp": "10.0.0.0/8"}}))
    assert inside.bucket(cbucket, sig).get_object("obj").read() == b"data of obj"
    assert negated.bucket(cbucket, sig).get_object("obj").read() == b"data of obj"
    h.expect_error(lambda: outside.bucket(cbucket, sig).get_object("obj"))
    h.expect_error(lambda: outside.v2(sig).get_object(
        oss.GetObjectRequest(bucket=cbucket, key="obj")))
    assert inside.v2(sig).get_object(
        oss.GetObjectRequest(bucket=cbucket, key="obj")).body.read() == b"data of obj"


def test_source_ip_deny(ram, cbucket, sig):
    """An allow for everything plus a Deny from 127.0.0.0/8: the deny wins."""
    user = ram.user(h.policy_doc(
        h.allow(["oss:GetObject", "oss:ListObjects"], [h.bucket_arn(cbucket),
                                                        h.bucket_arn(cbucket, "*")]),
        h.deny("oss:GetObject", h.bucket_arn(cbucket, "*"),
               condition={"IpAddress": {"acs:SourceIp": ["127.0.0.0/8"]}})))
    b = user.bucket(cbucket, sig)
    h.expect_error(lambda: b.get_object("obj"))
    assert "obj" in [o.key for o in b.list_objects().object_list]


# ---------------------------------------------------------------- oss:Prefix

def test_prefix_on_list_objects(ram, cbucket, sig):
    user = ram.user(h.policy_doc(h.allow(
        "oss:ListObjects", h.bucket_arn(cbucket),
        condition={"StringLike": {"oss:Prefix": ["team/*"]}})))
    b = user.bucket(cbucket, sig)
    assert sorted(o.key for o in b.list_objects(prefix="team/").object_list) == \
        ["team/a", "team/b"]
    assert [o.key for o in b.list_objects_v2(prefix="team/a").object_list] == ["team/a"]
    h.expect_error(lambda: b.list_objects(prefix="other/"))
    h.expect_error(lambda: b.list_objects_v2(prefix="other/"))
    # oss2 always sends `prefix=`: an empty prefix does not match team/*
    h.expect_error(lambda: b.list_objects())
    # the listing permission is not an object-read permission
    h.expect_error(lambda: b.get_object("team/a"))

    c = user.v2(sig)
    r = c.list_objects_v2(oss.ListObjectsV2Request(bucket=cbucket, prefix="team/"))
    assert sorted(o.key for o in r.contents) == ["team/a", "team/b"]
    h.expect_error(lambda: c.list_objects_v2(
        oss.ListObjectsV2Request(bucket=cbucket, prefix="other/")))
    # the v2 SDK sends no prefix at all: the key is missing, a positive operator fails
    h.expect_error(lambda: c.list_objects_v2(oss.ListObjectsV2Request(bucket=cbucket)))


def test_prefix_string_equals_and_delimiter(ram, cbucket):
    user = ram.user(h.policy_doc(h.allow(
        "oss:ListObjects", h.bucket_arn(cbucket),
        condition={"StringEquals": {"oss:Prefix": ["", "team/"], "oss:Delimiter": "/"}})))
    b = user.bucket(cbucket, "v4")
    r = b.list_objects(prefix="", delimiter="/")
    assert sorted(r.prefix_list) == ["other/", "team/"]
    assert [o.key for o in r.object_list] == ["obj"]
    assert sorted(o.key for o in b.list_objects(prefix="team/", delimiter="/").object_list) \
        == ["team/a", "team/b"]
    h.expect_error(lambda: b.list_objects(prefix="team/"))  # oss2 sends `delimiter=`
    h.expect_error(lambda: b.list_objects(prefix="other/", delimiter="/"))


# ---------------------------------------------------------------- acs:CurrentTime

def test_current_time(ram, cbucket, sig):
    expired = ram.user(_get_obj(cbucket, {"DateLessThan": {
        "acs:CurrentTime": "2020-01-01T00:00:00Z"}}))
    started = ram.user(_get_obj(cbucket, {"DateGreaterThan": {
        "acs:CurrentTime": "2020-01-01T00:00:00Z"}}))
    window = ram.user(_get_obj(cbucket, {
        "DateGreaterThanEquals": {"acs:CurrentTime": "2020-01-01T00:00:00Z"},
        "DateLessThan": {"acs:CurrentTime": "2999-01-01T00:00:00Z"}}))
    h.expect_error(lambda: expired.bucket(cbucket, sig).get_object("obj"))
    assert started.bucket(cbucket, sig).get_object("obj").read() == b"data of obj"
    assert window.bucket(cbucket, sig).get_object("obj").read() == b"data of obj"


# ---------------------------------------------------------------- bucket policies requiring SSE

@pytest.fixture
def sse_required_bucket(server, make_bucket):
    name = make_bucket(prefix="acc-ssereq")
    root = h.oss2_bucket(server, name, "v1")
    root.put_bucket_policy(h.policy_doc(h.deny(
        "oss:PutObject", h.bucket_arn(name, "*"), principal=["*"],
        condition={"StringNotEquals": {
            "oss:x-oss-server-side-encryption": ["AES256", "SM4", "KMS"]}})))
    return name


def test_deny_uploads_without_sse(server, ram, sse_required_bucket, sig):
    name = sse_required_bucket
    root = h.oss2_bucket(server, name, sig)
    # the statement has a condition, so it applies to the bucket owner too
    h.expect_error(lambda: root.put_object("plain", b"x"), 403, "AccessDenied")
    assert root.object_exists("plain") is False
    for method in ("AES256", "SM4", "KMS", "KMS+SM4"):
        r = root.put_object("enc-" + method, b"x", headers=h.sse_headers(method))
        assert r.status == 200
        h.assert_sse(r.headers, method)
    # multipart and append are uploads too
    h.expect_error(lambda: root.init_multipart_upload("mp"))
    root.init_multipart_upload("mp", headers=h.sse_headers("SM4"))
    h.expect_error(lambda: root.append_object("ap", 0, b"x"))
    root.append_object("ap", 0, b"x", headers=h.sse_headers("AES256"))

    # a RAM user allowed everything is denied too
    user = ram.user(h.policy_doc(h.allow("oss:*", "*")))
    ub = user.bucket(name, sig)
    h.expect_error(lambda: ub.put_object("plain", b"x"))
    assert ub.put_object("u-aes", b"x", headers=h.sse_headers("AES256")).status == 200

    # v2
    c = h.v2_client(server, sig)
    h.expect_error(lambda: c.put_object(oss.PutObjectRequest(bucket=name, key="v2", body=b"x")))
    c.put_object(oss.PutObjectRequest(bucket=name, key="v2", body=b"x",
                                      **h.sse_v2_kwargs("SM4")))

    # reads are not affected
    assert root.get_object("enc-AES256").read() == b"x"


def test_bucket_default_does_not_satisfy_sse_condition(server, sse_required_bucket):
    """The SSE condition keys carry the request's headers: a bucket default is not one."""
    root = h.oss2_bucket(server, sse_required_bucket, "v4")
    root.put_bucket_encryption(Rule("AES256"))
    h.expect_error(lambda: root.put_object("plain", b"x"))
    r = root.put_object("explicit", b"x", headers=h.sse_headers("AES256"))
    h.assert_sse(r.headers, "AES256")


@pytest.fixture
def cmk_pair(cli):
    if not h.has_subcommand("kms"):
        pytest.skip("no `kms` subcommand")
    return cli.create_cmk(), cli.create_cmk()


def test_deny_uploads_not_under_cmk(server, make_bucket, cmk_pair, sig):
    right, wrong = cmk_pair
    name = make_bucket(prefix="acc-cmkreq")
    root = h.oss2_bucket(server, name, sig)
    root.put_bucket_policy(h.policy_doc(h.deny(
        "oss:PutObject", h.bucket_arn(name, "*"), principal=["*"],
        condition={"StringNotEquals": {"oss:x-oss-server-side-encryption-key-id": right}})))
    kms = lambda key_id: {h.SSE_HDR: "KMS", h.SSE_KEY_HDR: key_id}  # noqa: E731
    h.expect_error(lambda: root.put_object("wrong", b"x", headers=kms(wrong)))
    h.expect_error(lambda: root.put_object("default-cmk", b"x", headers=h.sse_headers("KMS")))
    h.expect_error(lambda: root.put_object("aes", b"x", headers=h.sse_headers("AES256")))
    h.expect_error(lambda: root.put_object("plain", b"x"))
    r = root.put_object("right", b"x", headers=kms(right))
    assert r.status == 200
    h.assert_sse(r.headers, "KMS", right)
    r = root.put_object("right-sm4", b"x", headers=dict(kms(right), **{h.SSE_DATA_HDR: "SM4"}))
    h.assert_sse(r.headers, "KMS+SM4", right)
    for key in ("wrong", "default-cmk", "aes", "plain"):
        assert root.object_exists(key) is False, key

    c = h.v2_client(server, sig)
    h.expect_error(lambda: c.put_object(oss.PutObjectRequest(
        bucket=name, key="v2", body=b"x", **h.sse_v2_kwargs("KMS", wrong))))
    c.put_object(oss.PutObjectRequest(bucket=name, key="v2", body=b"x",
                                      **h.sse_v2_kwargs("KMS", right)))
