"""Authentication and access control: V1 / V4 header signatures, presigned URLs (V1 and V4,
from both SDKs), expired / tampered presigns, wrong secret, unknown AccessKeyId, anonymous
access and canned ACLs (reference §3, §4.3, §5.4)."""
import datetime
import time
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import oss2
import pytest
import requests
import alibabacloud_oss_v2 as oss

import sdkhelpers as h

PRESIGN_KEYS = ["plain.txt", "dir/with space+plus%pct 汉字.bin"]


def _replace_query(url, name, value):
    parts = urlsplit(url)
    q = [(k, value if k == name else v) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    return urlunsplit(parts._replace(query=urlencode(q, safe="/")))


def _drop_query(url, name):
    parts = urlsplit(url)
    q = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != name]
    return urlunsplit(parts._replace(query=urlencode(q, safe="/")))


def _error_code(resp):
    return h.parse_error_xml(resp.content)["Code"]


# ---------------------------------------------------------------- presigned URLs

@pytest.mark.parametrize("key", PRESIGN_KEYS)
def test_oss2_presigned_get(o2, sig, key):
    data = h.rand_bytes(777)
    o2.put_object(key, data)
    url = o2.sign_url("GET", key, 300)
    if sig == "v1":
        assert "OSSAccessKeyId=" in url and "Signature=" in url
    else:
        assert "x-oss-signature-version=OSS4-HMAC-SHA256" in url
    resp = requests.get(url)
    assert resp.status_code == 200, resp.text
    assert resp.content == data
    assert resp.headers["ETag"] == h.quoted_etag(data)
    # and through the SDK's own URL helper
    assert o2.get_object_with_url(url).read() == data


def test_oss2_presigned_put(o2, sig):
    headers = {"Content-Type": "text/x-presigned", "x-oss-meta-via": "url"}
    url = o2.sign_url("PUT", "uploaded.txt", 300, headers=headers)
    resp = requests.put(url, data=b"sent via presigned url", headers=headers)
    assert resp.status_code == 200, resp.text
    hd = o2.head_object("uploaded.txt")
    assert hd.content_type == "text/x-presigned"
    assert hd.headers["x-oss-meta-via"] == "url"
    assert o2.get_object("uploaded.txt").read() == b"sent via presigned url"


def test_oss2_presigned_put_with_sdk_helper(o2):
    url = o2.sign_url("PUT", "helper.bin", 300)
    data = h.rand_bytes(1000)
    r = o2.put_object_with_url(url, data)  # verifies the returned CRC-64
    assert r.status == 200
    assert r.crc == h.crc64(data)
    assert o2.get_object("helper.bin").read() == data


@pytest.mark.parametrize("key", PRESIGN_KEYS)
def test_v2_presigned_get_and_head(v2, bucket_name, sig, key):
    data = h.rand_bytes(500)
    v2.put_object(oss.PutObjectRequest(bucket=bucket_name, key=key, body=data))
    pr = v2.presign(oss.GetObjectRequest(bucket=bucket_name, key=key),
                    expires=datetime.timedelta(minutes=5))
    assert pr.method == "GET"
    if sig == "v1":
        assert "OSSAccessKeyId=" in pr.url
    else:
        assert "x-oss-signature-version=OSS4-HMAC-SHA256" in pr.url
    resp = requests.get(pr.url, headers=pr.signed_headers)
    assert resp.status_code == 200, resp.text
    assert resp.content == data

    pr = v2.presign(oss.HeadObjectRequest(bucket=bucket_name, key=key))
    resp = requests.head(pr.url, headers=pr.signed_headers)
    assert resp.status_code == 200
    assert int(resp.headers["Content-Length"]) == len(data)


def test_v2_presigned_put(v2, bucket_name):
    pr = v2.presign(oss.PutObjectRequest(bucket=bucket_name, key="v2put.txt",
                                         content_type="text/x-v2"))
    assert pr.method == "PUT"
    resp = requests.put(pr.url, data=b"v2 presigned", headers=pr.signed_headers)
    assert resp.status_code == 200, resp.text
    hd = v2.head_object(oss.HeadObjectRequest(bucket=bucket_name, key="v2put.txt"))
    assert hd.content_type == "text/x-v2"
    assert hd.content_length == len(b"v2 presigned")


def test_presigned_response_overrides(o2):
    # response-* parameters are signed sub-resources (§3.2) and apply to presigned GETs.
    o2.put_object("ovr", b"x")
    url = o2.sign_url("GET", "ovr", 300, params={"response-content-type": "text/x-ovr"})
    resp = requests.get(url)
    assert resp.status_code == 200, resp.text
    assert resp.headers["Content-Type"] == "text/x-ovr"


def test_presigned_urls_expire(server, bucket_name, o2_admin):
    """Expired V1 / V4 presigned URLs from both SDKs -> 403 AccessDenied (§3.2, §4.3)."""
    o2_admin.put_object("exp", b"x")
    urls = {}
    for sig in h.SIG_VERSIONS:
        b = h.oss2_bucket(server, bucket_name, sig)
        urls["oss2-" + sig] = b.sign_url("GET", "exp", 1)
        c = h.v2_client(server, sig)
        urls["v2-" + sig] = c.presign(oss.GetObjectRequest(bucket=bucket_name, key="exp"),
                                      expires=datetime.timedelta(seconds=1)).url
    time.sleep(3)
    for name, url in urls.items():
        resp = requests.get(url)
        assert resp.status_code == 403, "%s: %s %s" % (name, resp.status_code, resp.text)
        assert _error_code(resp) == "AccessDenied", name


def test_presigned_v1_already_expired(o2_admin, server, bucket_name):
    o2_admin.put_object("exp", b"x")
    url = h.oss2_bucket(server, bucket_name, "v1").sign_url("GET", "exp", -60)
    resp = requests.get(url)
    assert resp.status_code == 403
    assert _error_code(resp) == "AccessDenied"


def test_presigned_v1_tampered_or_incomplete(server, bucket_name, o2_admin):
    o2_admin.put_object("t", b"x")
    o2_admin.put_object("other", b"y")
    b = h.oss2_bucket(server, bucket_name, "v1")
    url = b.sign_url("GET", "t", 300)

    bad = _replace_query(url, "Signature", "AAAAAAAAAAAAAAAAAAAAAAAAAAA=")
    resp = requests.get(bad)
    assert resp.status_code == 403
    assert _error_code(resp) == "SignatureDoesNotMatch"

    # a URL signed for one key does not authorise another
    resp = requests.get(url.replace("/t?", "/other?"))
    assert resp.status_code == 403
    assert _error_code(resp) == "SignatureDoesNotMatch"

    # signed for GET, used for PUT
    resp = requests.put(url, data=b"overwrite")
    assert resp.status_code == 403
    assert _error_code(resp) == "SignatureDoesNotMatch"

    # §3.2: any of OSSAccessKeyId / Expires / Signature missing -> 403 AccessDenied
    resp = requests.get(_drop_query(url, "Signature"))
    assert resp.status_code == 403
    assert _error_code(resp) == "AccessDenied"

    assert o2_admin.get_object("t").read() == b"x"


def test_presigned_v4_tampered(server, bucket_name, o2_admin):
    o2_admin.put_object("t", b"x")
    b = h.oss2_bucket(server, bucket_name, "v4")
    url = b.sign_url("GET", "t", 300)
    bad = _replace_query(url, "x-oss-signature", "0" * 64)
    resp = requests.get(bad)
    assert resp.status_code == 403
    assert _error_code(resp) == "SignatureDoesNotMatch"
    resp = requests.put(url, data=b"nope")
    assert resp.status_code == 403
    assert _error_code(resp) == "SignatureDoesNotMatch"


# ---------------------------------------------------------------- bad credentials

def test_oss2_wrong_secret(server, sig, bucket_name, o2_admin):
    o2_admin.put_object("k", b"x")
    b = h.oss2_bucket(server, bucket_name, sig, sk="definitely-not-the-secret")
    for call in (lambda: b.get_object("k"),
                 lambda: b.put_object("k2", b"y"),
                 lambda: b.list_objects(),
                 lambda: b.get_bucket_info()):
        with pytest.raises(oss2.exceptions.SignatureDoesNotMatch) as ei:
            call()
        h.assert_oss2_error(ei.value, 403, "SignatureDoesNotMatch")
    # §4.2: the error carries the server's string to sign and the AccessKeyId
    assert ei.value.details.get("StringToSign")
    assert ei.value.details.get("OSSAccessKeyId") == server.access_key_id
    with pytest.raises(oss2.exceptions.SignatureDoesNotMatch):
        h.oss2_service(server, sig, sk="wrong").list_buckets()
    assert o2_admin.object_exists("k2") is False


def test_oss2_wrong_secret_on_head(server, sig, bucket_name, o2_admin):
    o2_admin.put_object("k", b"x")
    b = h.oss2_bucket(server, bucket_name, sig, sk="wrong-secret")
    with pytest.raises(oss2.exceptions.SignatureDoesNotMatch) as ei:
        b.head_object("k")  # the code comes from x-oss-err
    h.assert_oss2_error(ei.value, 403, "SignatureDoesNotMatch")


def test_v2_wrong_secret(server, sig, bucket_name):
    c = h.v2_client(server, sig, sk="wrong-secret")
    with pytest.raises(oss.exceptions.OperationError) as ei:
        c.put_object(oss.PutObjectRequest(bucket=bucket_name, key="k", body=b"x"))
    h.assert_v2_error(ei, 403, "SignatureDoesNotMatch")
    with pytest.raises(oss.exceptions.OperationError) as ei:
        c.list_buckets(oss.ListBucketsRequest())
    h.assert_v2_error(ei, 403, "SignatureDoesNotMatch")


def test_unknown_access_key_id(server, sig, bucket_name):
    b = h.oss2_bucket(server, bucket_name, sig, ak="LTAInosuchkey000000", sk="whatever")
    with pytest.raises(oss2.exceptions.ServerError) as ei:
        b.get_object("k")
    h.assert_oss2_error(ei.value, 403, "InvalidAccessKeyId")
    assert ei.value.details.get("OSSAccessKeyId") in (None, "LTAInosuchkey000000")

    c = h.v2_client(server, sig, ak="LTAInosuchkey000000", sk="whatever")
    with pytest.raises(oss.exceptions.OperationError) as ei:
        c.list_objects_v2(oss.ListObjectsV2Request(bucket=bucket_name))
    h.assert_v2_error(ei, 403, "InvalidAccessKeyId")


def test_unknown_access_key_id_presigned(server, bucket_name, o2_admin):
    o2_admin.put_object("k", b"x")
    for sig in h.SIG_VERSIONS:
        url = h.oss2_bucket(server, bucket_name, sig, ak="LTAInosuchkey000000",
                            sk="whatever").sign_url("GET", "k", 300)
        resp = requests.get(url)
        assert resp.status_code == 403, sig
        assert _error_code(resp) == "InvalidAccessKeyId", sig


def test_request_time_too_skewed(server, bucket_name, monkeypatch):
    # §3.1: a Date more than 15 minutes off -> 403 RequestTimeTooSkewed. oss2's V1 signer takes
    # the Date from oss2.utils.http_date(); shift it by an hour for this one request.
    real = oss2.utils.http_date
    monkeypatch.setattr(oss2.utils, "http_date", lambda timeval=None: real(time.time() - 3600))
    b = h.oss2_bucket(server, bucket_name, "v1")
    with pytest.raises(oss2.exceptions.ServerError) as ei:
        b.list_objects()
    h.assert_oss2_error(ei.value, 403, "RequestTimeTooSkewed")


# ---------------------------------------------------------------- anonymous access / ACLs

def _anon_oss2(server, name):
    return oss2.Bucket(oss2.AnonymousAuth(), server.endpoint, name)


def test_anonymous_denied_on_private_bucket(server, bucket_name, o2_admin):
    o2_admin.put_object("secret", b"classified")
    anon = _anon_oss2(server, bucket_name)
    for call in (lambda: anon.get_object("secret"),
                 lambda: anon.put_object("new", b"x"),
                 lambda: anon.list_objects(),
                 lambda: anon.delete_object("secret")):
        with pytest.raises(oss2.exceptions.AccessDenied) as ei:
            call()
        h.assert_oss2_error(ei.value, 403, "AccessDenied")
    with pytest.raises(oss2.exceptions.AccessDenied):
        anon.head_object("secret")  # code from x-oss-err
    assert o2_admin.get_object("secret").read() == b"classified"
    assert o2_admin.object_exists("new") is False

    c = h.v2_client(server, anonymous=True)
    with pytest.raises(oss.exceptions.OperationError) as ei:
        c.get_object(oss.GetObjectRequest(bucket=bucket_name, key="secret"))
    h.assert_v2_error(ei, 403, "AccessDenied")


def test_anonymous_list_buckets_denied(server):
    resp = requests.get(server.endpoint + "/")
    assert resp.status_code == 403
    assert _error_code(resp) == "AccessDenied"


def test_public_read_bucket(server, make_bucket):
    name = make_bucket(acl=oss2.BUCKET_ACL_PUBLIC_READ)
    owner = h.oss2_bucket(server, name, "v1")
    owner.put_object("pub.txt", b"public data")
    anon = _anon_oss2(server, name)
    assert anon.get_object("pub.txt").read() == b"public data"
    assert anon.head_object("pub.txt").content_length == len(b"public data")
    assert [o.key for o in anon.list_objects().object_list] == ["pub.txt"]
    for call in (lambda: anon.put_object("anon-write", b"x"),
                 lambda: anon.delete_object("pub.txt")):
        with pytest.raises(oss2.exceptions.AccessDenied) as ei:
            call()
        h.assert_oss2_error(ei.value, 403, "AccessDenied")
    assert owner.object_exists("pub.txt")
    assert not owner.object_exists("anon-write")
    # plain HTTP client, no SDK
    resp = requests.get(h.path_url(server, name, "pub.txt"))
    assert resp.status_code == 200 and resp.content == b"public data"
    # v2 SDK with anonymous credentials
    c = h.v2_client(server, anonymous=True)
    g = c.get_object(oss.GetObjectRequest(bucket=name, key="pub.txt"))
    assert g.body.read() == b"public data"


def test_public_read_write_bucket(server, make_bucket):
    name = make_bucket(acl=oss2.BUCKET_ACL_PUBLIC_READ_WRITE)
    anon = _anon_oss2(server, name)
    anon.put_object("anon.txt", b"written anonymously")
    assert anon.get_object("anon.txt").read() == b"written anonymously"
    owner = h.oss2_bucket(server, name, "v1")
    assert owner.get_object("anon.txt").read() == b"written anonymously"


def test_object_acl_overrides_bucket_acl(server, make_bucket):
    private = make_bucket()
    owner = h.oss2_bucket(server, private, "v1")
    owner.put_object("open", b"readable", headers={"x-oss-object-acl": "public-read"})
    owner.put_object("closed", b"hidden")
    anon = _anon_oss2(server, private)
    assert anon.get_object("open").read() == b"readable"
    with pytest.raises(oss2.exceptions.AccessDenied):
        anon.get_object("closed")

    public = make_bucket(acl="public-read")
    owner = h.oss2_bucket(server, public, "v1")
    owner.put_object("locked", b"x", headers={"x-oss-object-acl": "private"})
    owner.put_object("inherits", b"y")  # object ACL "default" -> bucket ACL
    anon = _anon_oss2(server, public)
    with pytest.raises(oss2.exceptions.AccessDenied):
        anon.get_object("locked")
    assert anon.get_object("inherits").read() == b"y"


def test_bucket_acl_change_takes_effect(server, make_bucket):
    name = make_bucket()
    owner = h.oss2_bucket(server, name, "v1")
    owner.put_object("k", b"v")
    anon = _anon_oss2(server, name)
    with pytest.raises(oss2.exceptions.AccessDenied):
        anon.get_object("k")
    owner.put_bucket_acl("public-read")
    assert anon.get_object("k").read() == b"v"
    owner.put_bucket_acl("private")
    with pytest.raises(oss2.exceptions.AccessDenied):
        anon.get_object("k")


def test_anonymous_response_overrides_ignored(server, make_bucket):
    # §5.4: response-* overrides apply only to authenticated requests; anonymous ones are
    # ignored ([DOC] GetObject).
    name = make_bucket(acl="public-read")
    h.oss2_bucket(server, name, "v1").put_object("o", b"x",
                                                 headers={"Content-Type": "text/x-stored"})
    resp = requests.get(h.path_url(server, name, "o", query="response-content-type=text%2Fx-ovr"))
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == "text/x-stored"


def test_both_signature_versions_interoperate(server, bucket_name):
    """Objects written with one signature version are readable with the other."""
    b1 = h.oss2_bucket(server, bucket_name, "v1")
    b4 = h.oss2_bucket(server, bucket_name, "v4")
    c1 = h.v2_client(server, "v1")
    c4 = h.v2_client(server, "v4")
    b1.put_object("from-v1", b"1")
    b4.put_object("from-v4", b"4")
    assert b4.get_object("from-v1").read() == b"1"
    assert b1.get_object("from-v4").read() == b"4"
    for c in (c1, c4):
        for k, v in (("from-v1", b"1"), ("from-v4", b"4")):
            assert c.get_object(oss.GetObjectRequest(bucket=bucket_name, key=k)).body.read() == v
