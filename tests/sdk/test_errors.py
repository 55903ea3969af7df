"""Common response headers and the error format: Error XML with Code / Message / RequestId /
HostId / EC, x-oss-request-id, and x-oss-err on HEAD errors (reference §4.1-§4.3)."""
import base64
import email.utils

import oss2
import pytest
import requests
import alibabacloud_oss_v2 as oss

import sdkhelpers as h


def _assert_error_details(e, code):
    d = e.details
    assert d.get("Code") == code
    assert d.get("Message"), "Message must be non-empty"
    assert d.get("RequestId") == e.request_id, "RequestId in body must equal x-oss-request-id"
    assert h.REQUEST_ID_RE.match(d["RequestId"])
    assert d.get("HostId"), "HostId must be present"
    assert h.EC_RE.match(d.get("EC", "")), "EC must look like NNNN-NNNNNNNN: %r" % d.get("EC")
    assert e.headers.get("x-oss-ec") == d["EC"]


def test_get_missing_key_error_body(o2):
    with pytest.raises(oss2.exceptions.NoSuchKey) as ei:
        o2.get_object("no/such/key")
    e = ei.value
    h.assert_oss2_error(e, 404, "NoSuchKey")
    _assert_error_details(e, "NoSuchKey")
    assert e.message == "The specified key does not exist."
    assert e.headers.get("Content-Type", "").startswith("application/xml")


def test_missing_bucket_error_body(server, sig):
    b = h.oss2_bucket(server, h.unique_name("gone"), sig)
    with pytest.raises(oss2.exceptions.NoSuchBucket) as ei:
        b.get_object("k")
    h.assert_oss2_error(ei.value, 404, "NoSuchBucket")
    _assert_error_details(ei.value, "NoSuchBucket")
    assert ei.value.message == "The specified bucket does not exist."


def test_head_missing_key_uses_x_oss_err(o2):
    # §4.2: HEAD errors have an empty body plus x-oss-err (base64 Error XML) and x-oss-ec;
    # oss2 decodes the header, so the SDK reports NoSuchKey rather than a bare 404.
    with pytest.raises(oss2.exceptions.NoSuchKey) as ei:
        o2.head_object("missing")
    e = ei.value
    h.assert_oss2_error(e, 404, "NoSuchKey")
    assert not e.body
    raw = e.headers.get("x-oss-err")
    assert raw, "HEAD error must carry x-oss-err"
    details = h.decode_x_oss_err(raw)
    assert details["Code"] == "NoSuchKey"
    assert details["RequestId"] == e.request_id
    assert details.get("HostId")
    assert h.EC_RE.match(e.headers.get("x-oss-ec", ""))
    _assert_error_details(e, "NoSuchKey")


def test_head_missing_bucket_uses_x_oss_err(server, sig):
    b = h.oss2_bucket(server, h.unique_name("gone"), sig)
    with pytest.raises(oss2.exceptions.NoSuchBucket) as ei:
        b.head_object("k")
    h.assert_oss2_error(ei.value, 404, "NoSuchBucket")
    assert h.decode_x_oss_err(ei.value.headers["x-oss-err"])["Code"] == "NoSuchBucket"


def test_v2_head_missing_key(v2, bucket_name):
    with pytest.raises(oss.exceptions.OperationError) as ei:
        v2.head_object(oss.HeadObjectRequest(bucket=bucket_name, key="missing"))
    err = h.assert_v2_error(ei, 404, "NoSuchKey")
    assert h.EC_RE.match(err.ec or "")
    assert err.message


def test_v2_get_missing_key(v2, bucket_name):
    with pytest.raises(oss.exceptions.OperationError) as ei:
        v2.get_object(oss.GetObjectRequest(bucket=bucket_name, key="missing"))
    err = h.assert_v2_error(ei, 404, "NoSuchKey")
    assert h.EC_RE.match(err.ec or "")
    assert err.error_fileds.get("HostId")


def test_raw_error_xml(server, bucket_name):
    # An anonymous GET on a private bucket: look at the raw response.
    resp = requests.get(h.path_url(server, bucket_name, "k"))
    assert resp.status_code == 403
    assert resp.headers["Content-Type"].startswith("application/xml")
    rid = resp.headers.get("x-oss-request-id", "")
    assert h.REQUEST_ID_RE.match(rid)
    d = h.parse_error_xml(resp.content)
    assert d["Code"] == "AccessDenied"
    assert d["RequestId"] == rid
    assert d["HostId"]
    assert d["Message"]
    assert h.EC_RE.match(d["EC"])

    # the same request as HEAD: empty body, x-oss-err carries the XML
    resp = requests.head(h.path_url(server, bucket_name, "k"))
    assert resp.status_code == 403
    assert resp.content == b""
    d = h.parse_error_xml(base64.b64decode(resp.headers["x-oss-err"]))
    assert d["Code"] == "AccessDenied"
    assert d["RequestId"] == resp.headers["x-oss-request-id"]


def test_request_id_on_every_response(o2):
    ids = []
    ids.append(o2.put_object("rid", b"x").request_id)
    g = o2.get_object("rid")
    g.read()
    ids.append(g.request_id)
    ids.append(o2.head_object("rid").request_id)
    ids.append(o2.get_object_meta("rid").request_id)
    ids.append(o2.list_objects().request_id)
    ids.append(o2.get_bucket_acl().request_id)
    ids.append(o2.delete_object("rid").request_id)
    for rid in ids:
        assert h.REQUEST_ID_RE.match(rid), rid
    assert len(set(ids)) == len(ids), "request ids must be unique"


def test_common_response_headers(o2):
    r = o2.put_object("hdr", b"x")
    # §4.1: Server: AliyunOSS; Date in RFC 1123 GMT (the v2 SDK uses it for skew correction)
    assert r.headers.get("Server") == "AliyunOSS"
    date = r.headers.get("Date")
    assert date and date.endswith("GMT")
    assert email.utils.parsedate_to_datetime(date) is not None
    assert h.ETAG_MD5_RE.match(r.headers["ETag"])


def test_error_status_code_pairs(o2):
    """oss2 maps (status, code) pairs to exception classes (§4.2); the pair must match."""
    o2.put_object("normal", b"x")
    cases = [
        (lambda: o2.get_object("missing"), oss2.exceptions.NoSuchKey),
        (lambda: o2.append_object("normal", 1, b"y"), oss2.exceptions.ObjectNotAppendable),
        (lambda: o2.list_parts("k", "0004B9894A22E5B1888A1E29F8230000"),
         oss2.exceptions.NoSuchUpload),
        (lambda: o2.put_object("bad-md5", b"x", headers={"Content-MD5": h.md5_b64(b"y")}),
         oss2.exceptions.InvalidDigest),
        (lambda: o2.put_object("k" * 1024, b"x"), oss2.exceptions.InvalidObjectName),
        (lambda: o2.get_object("normal", headers={"If-Match": '"' + "1" * 32 + '"'}),
         oss2.exceptions.PreconditionFailed),
    ]
    for call, klass in cases:
        with pytest.raises(klass) as ei:
            call()
        assert type(ei.value) is klass, "%r raised %r" % (klass, ei.value)


@pytest.mark.parametrize("size", [1, 64 * 1024, 1024 * 1024])
def test_keep_alive_after_early_error(server, bucket_name, size):
    """An error answered before the request body was read (here: an anonymous PUT to a
    private bucket) must not break HTTP keep-alive for the client: either the server drains
    the body and keeps the connection, or it says `Connection: close`. Otherwise pooled SDK
    connections fail on their next request with RemoteDisconnected / BrokenPipe."""
    import os as _os
    for attempt in range(3):
        conn = h.raw_connection(server)
        try:
            conn.request("PUT", "/%s/k" % bucket_name, body=_os.urandom(size))
            r = conn.getresponse()
            r.read()
            assert r.status == 403
            if (r.getheader("Connection") or "").lower() == "close":
                continue  # the client knows not to reuse this connection
            conn.request("GET", "/%s/k" % bucket_name)
            r2 = conn.getresponse()
            r2.read()
            assert r2.status == 403
        finally:
            conn.close()
