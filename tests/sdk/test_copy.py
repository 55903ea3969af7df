"""CopyObject: metadata directive COPY / REPLACE, cross-bucket copies, copy-source
conditions (reference §5.2, §5.3, §5.4, §5.6)."""
import email.utils
import time
import xml.etree.ElementTree as ET

import oss2
import pytest
import alibabacloud_oss_v2 as oss

import sdkhelpers as h

SRC_HEADERS = {
    "Content-Type": "text/x-source",
    "Cache-Control": "max-age=60",
    "x-oss-meta-origin": "source",
    "x-oss-meta-shared": "from-source",
}


@pytest.fixture
def src(o2_admin):
    data = h.rand_bytes(5000)
    o2_admin.put_object("src/object.bin", data, headers=SRC_HEADERS)
    return "src/object.bin", data


def _http_date(ts):
    return email.utils.formatdate(ts, usegmt=True)


def _assert_dst_crc(headers, data):
    # §5.7: objects produced by CopyObject may lack the CRC header; if present it must match.
    crc = headers.get("x-oss-hash-crc64ecma")
    if crc is not None:
        assert crc == str(h.crc64(data))


def test_oss2_copy_default_directive_copies_metadata(o2, bucket_name, src):
    key, data = src
    r = o2.copy_object(bucket_name, key, "dst/copy.bin")
    assert r.status == 200
    body = r.resp.read()
    root = ET.fromstring(body)
    assert root.tag == "CopyObjectResult"
    assert root.findtext("ETag")
    assert root.findtext("LastModified")

    g = o2.get_object("dst/copy.bin")
    assert g.read() == data
    assert g.headers["Content-Type"] == "text/x-source"
    assert g.headers["Cache-Control"] == "max-age=60"
    assert g.headers["x-oss-meta-origin"] == "source"
    assert g.headers["x-oss-meta-shared"] == "from-source"
    # the XML ETag is the destination's ETag
    assert root.findtext("ETag") == g.headers["ETag"]
    _assert_dst_crc(g.headers, data)


def test_oss2_copy_replace_directive(o2, bucket_name, src):
    key, data = src
    o2.copy_object(bucket_name, key, "dst/replaced", headers={
        "x-oss-metadata-directive": "REPLACE",
        "Content-Type": "text/x-new",
        "x-oss-meta-fresh": "yes",
    })
    hd = o2.head_object("dst/replaced")
    assert hd.content_type == "text/x-new"
    assert hd.headers["x-oss-meta-fresh"] == "yes"
    assert "x-oss-meta-origin" not in hd.headers
    assert "x-oss-meta-shared" not in hd.headers
    assert "Cache-Control" not in hd.headers
    assert o2.get_object("dst/replaced").read() == data


CSE_META = {
    # What the SDKs' client-side encryption stores (reference §2.4); it describes the bytes.
    "x-oss-meta-client-side-encryption-key": "d3JhcHBlZCBrZXk=",
    "x-oss-meta-client-side-encryption-start": "aXYgc3RhcnQ=",
    "x-oss-meta-client-side-encryption-cek-alg": "AES/CTR/NoPadding",
    "x-oss-meta-client-side-encryption-wrap-alg": "RSA/NONE/PKCS1Padding",
    "x-oss-meta-client-side-encryption-unencrypted-content-length": "5000",
}
FULL_SRC_HEADERS = dict(SRC_HEADERS, **CSE_META, **{
    "Content-Encoding": "identity",
    "Content-Disposition": "attachment; filename=src.bin",
    "Content-Language": "en",
    "Expires": "Wed, 21 Oct 2037 07:28:00 GMT",
})


def _assert_replaced(headers, fresh):
    """REPLACE without Content-Type: the source's Content-Type and client-side-encryption
    metadata stay; every other standard header and user metadata is the request's or gone."""
    low = {k.lower(): v for k, v in headers.items()}
    assert low["content-type"] == "text/x-source"
    for name, value in CSE_META.items():
        assert low[name] == value, name
    assert low["x-oss-meta-fresh"] == "yes"
    assert "x-oss-meta-origin" not in low and "x-oss-meta-shared" not in low
    for name, value in fresh.items():
        assert low[name.lower()] == value, name
    for name in ("cache-control", "content-encoding", "content-disposition",
                 "content-language", "expires"):
        if name not in (n.lower() for n in fresh):
            assert name not in low, name


def test_oss2_copy_replace_keeps_content_type_and_client_side_encryption(o2, bucket_name):
    data = h.rand_bytes(5000)
    o2.put_object("cse-src", data, headers=FULL_SRC_HEADERS)
    fresh = {"Cache-Control": "no-store"}
    o2.copy_object(bucket_name, "cse-src", "cse-dst", headers=dict(fresh, **{
        "x-oss-metadata-directive": "REPLACE", "x-oss-meta-fresh": "yes"}))
    _assert_replaced(o2.head_object("cse-dst").headers, fresh)
    g = o2.get_object("cse-dst")
    assert g.read() == data
    _assert_replaced(g.headers, fresh)
    # update_object_meta (REPLACE onto itself) alike
    o2.update_object_meta("cse-src", {"x-oss-meta-fresh": "yes"})
    _assert_replaced(o2.head_object("cse-src").headers, {})
    assert o2.get_object("cse-src").read() == data


def test_v2_copy_replace_keeps_content_type_and_client_side_encryption(v2, bucket_name):
    data = h.rand_bytes(3000)
    v2.put_object(oss.PutObjectRequest(bucket=bucket_name, key="cse-src", body=data,
                                       headers=dict(FULL_SRC_HEADERS)))
    v2.copy_object(oss.CopyObjectRequest(bucket=bucket_name, key="cse-dst",
                                         source_key="cse-src", metadata_directive="REPLACE",
                                         metadata={"fresh": "yes"},
                                         content_disposition="inline"))
    hd = v2.head_object(oss.HeadObjectRequest(bucket=bucket_name, key="cse-dst"))
    _assert_replaced(hd.headers, {"Content-Disposition": "inline"})
    assert hd.content_type == "text/x-source"
    assert hd.metadata["client-side-encryption-key"] == CSE_META[
        "x-oss-meta-client-side-encryption-key"]
    assert v2.get_object(oss.GetObjectRequest(bucket=bucket_name, key="cse-dst")).body.read() \
        == data
    # a Content-Type in the request still replaces the source's
    v2.copy_object(oss.CopyObjectRequest(bucket=bucket_name, key="typed", source_key="cse-src",
                                         metadata_directive="REPLACE",
                                         content_type="text/x-new"))
    hd = v2.head_object(oss.HeadObjectRequest(bucket=bucket_name, key="typed"))
    assert hd.content_type == "text/x-new"
    assert hd.metadata["client-side-encryption-cek-alg"] == "AES/CTR/NoPadding"


def test_oss2_copy_ignores_new_metadata_with_copy_directive(o2, bucket_name, src):
    key, _ = src
    o2.copy_object(bucket_name, key, "dst/copied", headers={
        "x-oss-metadata-directive": "COPY",
        "x-oss-meta-ignored": "yes",
    })
    hd = o2.head_object("dst/copied")
    assert hd.headers["x-oss-meta-origin"] == "source"
    assert "x-oss-meta-ignored" not in hd.headers


def test_oss2_update_object_meta_in_place(o2, src):
    # update_object_meta = CopyObject onto itself with x-oss-metadata-directive: REPLACE.
    key, data = src
    o2.update_object_meta(key, {"x-oss-meta-updated": "1", "Content-Type": "text/plain"})
    hd = o2.head_object(key)
    assert hd.headers["x-oss-meta-updated"] == "1"
    assert "x-oss-meta-origin" not in hd.headers
    assert hd.content_type == "text/plain"
    assert o2.get_object(key).read() == data


def test_oss2_copy_across_buckets(server, sig, o2, bucket_name, make_bucket, src):
    key, data = src
    other = make_bucket()
    dst = h.oss2_bucket(server, other, sig)
    r = dst.copy_object(bucket_name, key, "copied-in")
    assert r.status == 200
    assert dst.get_object("copied-in").read() == data
    assert dst.head_object("copied-in").headers["x-oss-meta-origin"] == "source"
    # the source is untouched
    assert o2.get_object(key).read() == data


@pytest.mark.parametrize("key", ["src dir/a+b%c.txt", "汉字/ü?#&.bin"])
def test_oss2_copy_special_source_key(o2, bucket_name, key):
    o2.put_object(key, b"special")
    o2.copy_object(bucket_name, key, key + ".copy")
    assert o2.get_object(key + ".copy").read() == b"special"


def test_oss2_copy_missing_source(o2, bucket_name):
    with pytest.raises(oss2.exceptions.NoSuchKey) as ei:
        o2.copy_object(bucket_name, "does-not-exist", "dst")
    h.assert_oss2_error(ei.value, 404, "NoSuchKey")
    assert o2.object_exists("dst") is False


def test_oss2_copy_missing_source_bucket(o2):
    with pytest.raises(oss2.exceptions.NoSuchBucket) as ei:
        o2.copy_object(h.unique_name("nobucket"), "k", "dst")
    h.assert_oss2_error(ei.value, 404, "NoSuchBucket")


def test_oss2_copy_source_conditions(o2, bucket_name, src):
    # §5.4: failed copy-source-if-none-match / -if-modified-since -> 304;
    #       failed copy-source-if-match / -if-unmodified-since -> 412.
    key, data = src
    etag = o2.head_object(key).headers["ETag"]
    future = _http_date(time.time() + 3600)
    past = _http_date(time.time() - 365 * 86400)
    wrong = '"0123456789ABCDEF0123456789ABCDEF"'

    def copy(headers):
        return o2.copy_object(bucket_name, key, "dst/cond", headers=headers)

    assert copy({"x-oss-copy-source-if-match": etag}).status == 200
    with pytest.raises(oss2.exceptions.PreconditionFailed) as ei:
        copy({"x-oss-copy-source-if-match": wrong})
    h.assert_oss2_error(ei.value, 412, "PreconditionFailed")

    assert copy({"x-oss-copy-source-if-none-match": wrong}).status == 200
    with pytest.raises(oss2.exceptions.NotModified) as ei:
        copy({"x-oss-copy-source-if-none-match": etag})
    assert ei.value.status == 304

    assert copy({"x-oss-copy-source-if-modified-since": past}).status == 200
    with pytest.raises(oss2.exceptions.NotModified) as ei:
        copy({"x-oss-copy-source-if-modified-since": future})
    assert ei.value.status == 304

    assert copy({"x-oss-copy-source-if-unmodified-since": future}).status == 200
    with pytest.raises(oss2.exceptions.PreconditionFailed) as ei:
        copy({"x-oss-copy-source-if-unmodified-since": past})
    h.assert_oss2_error(ei.value, 412, "PreconditionFailed")

    assert o2.get_object("dst/cond").read() == data


def test_v2_copy_object(v2, bucket_name):
    data = h.rand_bytes(2048)
    v2.put_object(oss.PutObjectRequest(bucket=bucket_name, key="s", body=data,
                                       metadata={"a": "1"}, content_type="text/x-a"))
    r = v2.copy_object(oss.CopyObjectRequest(bucket=bucket_name, key="d1", source_key="s"))
    assert r.status_code == 200
    assert r.etag
    assert r.last_modified is not None
    hd = v2.head_object(oss.HeadObjectRequest(bucket=bucket_name, key="d1"))
    assert hd.etag == r.etag
    assert hd.metadata["a"] == "1"
    assert hd.content_type == "text/x-a"
    assert v2.get_object(oss.GetObjectRequest(bucket=bucket_name, key="d1")).body.read() == data

    v2.copy_object(oss.CopyObjectRequest(bucket=bucket_name, key="d2", source_key="s",
                                         metadata_directive="REPLACE", metadata={"b": "2"},
                                         content_type="text/x-b"))
    hd = v2.head_object(oss.HeadObjectRequest(bucket=bucket_name, key="d2"))
    assert dict((k.lower(), v) for k, v in (hd.metadata or {}).items()) == {"b": "2"}
    assert hd.content_type == "text/x-b"


def test_v2_copy_conditions(v2, bucket_name):
    put = v2.put_object(oss.PutObjectRequest(bucket=bucket_name, key="s", body=b"cond"))
    r = v2.copy_object(oss.CopyObjectRequest(bucket=bucket_name, key="d", source_key="s",
                                             if_match=put.etag))
    assert r.status_code == 200
    with pytest.raises(oss.exceptions.OperationError) as ei:
        v2.copy_object(oss.CopyObjectRequest(bucket=bucket_name, key="d", source_key="s",
                                             if_match='"FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF"'))
    h.assert_v2_error(ei, 412, "PreconditionFailed")
    with pytest.raises(oss.exceptions.OperationError) as ei:
        v2.copy_object(oss.CopyObjectRequest(bucket=bucket_name, key="d", source_key="s",
                                             if_none_match=put.etag))
    assert h.v2_error(ei).status_code == 304
    with pytest.raises(oss.exceptions.OperationError) as ei:
        v2.copy_object(oss.CopyObjectRequest(bucket=bucket_name, key="d", source_key="missing"))
    h.assert_v2_error(ei, 404, "NoSuchKey")
