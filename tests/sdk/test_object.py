"""Object operations: PutObject, GetObject, HeadObject, GetObjectMeta, DeleteObject,
DeleteMultipleObjects, Put/GetObjectAcl, ranges, conditional requests, response overrides,
user metadata, Content-Type, Content-MD5, CRC-64, ETag and key limits
(reference §4, §5.2, §5.4, §5.5, §5.6, §5.7)."""
import email.utils
import hashlib
import time

import oss2
import pytest
import alibabacloud_oss_v2 as oss

import sdkhelpers as h

SPECIAL_KEYS = [
    "with space.txt",
    "plus+sign",
    "per%cent%20literal",
    "unicode-汉字-ü-é",
    "xml&lt<gt>\"quote'",
    "semi;colon,comma=eq@at$dollar!",
    "question?mark",
    "hash#tag",
    "dir//double//slash",
    "trailing/",
    "tilde~star*paren()",
    "brackets[]{}|^`",
]


def http_date(ts):
    return email.utils.formatdate(ts, usegmt=True)


@pytest.fixture
def obj1000(o2_admin):
    """A 1000-byte object written with root credentials; returns (key, data)."""
    data = h.rand_bytes(1000)
    o2_admin.put_object("range/obj.bin", data)
    return "range/obj.bin", data


# ---------------------------------------------------------------- Put / Get round trips

def test_oss2_put_get_roundtrip(o2):
    data = h.rand_bytes(1000)
    r = o2.put_object("dir/obj.bin", data)
    assert r.status == 200
    assert h.REQUEST_ID_RE.match(r.request_id)
    assert r.etag == h.md5_hex_upper(data)  # oss2 strips the quotes
    assert r.headers["ETag"] == h.quoted_etag(data)
    assert r.crc is not None, "x-oss-hash-crc64ecma missing on PutObject"
    assert r.crc == h.crc64(data)
    # §5.6: PutObject responses also return Content-MD5 of the stored object.
    assert r.headers.get("Content-MD5") == h.md5_b64(data)

    g = o2.get_object("dir/obj.bin")
    body = g.read()
    assert g.status == 200
    assert body == data
    assert g.content_length == len(data)
    assert g.etag == h.md5_hex_upper(data)
    assert g.server_crc == h.crc64(data)
    assert g.client_crc == g.server_crc  # oss2's CRC check on download (enable_crc=True)
    assert g.object_type == "Normal"
    assert g.headers.get("x-oss-storage-class") == "Standard"
    assert g.headers.get("Last-Modified")
    assert h.REQUEST_ID_RE.match(g.request_id)


def test_v2_put_get_roundtrip(v2, bucket_name):
    data = h.rand_bytes(1000)
    r = v2.put_object(oss.PutObjectRequest(bucket=bucket_name, key="dir/obj.bin", body=data))
    assert r.status_code == 200
    assert h.REQUEST_ID_RE.match(r.request_id)
    assert r.etag == h.quoted_etag(data)
    # The v2 SDK compares str(client crc) with this header byte for byte (§5.7).
    assert r.hash_crc64 == str(h.crc64(data))
    assert r.content_md5 == h.md5_b64(data)

    g = v2.get_object(oss.GetObjectRequest(bucket=bucket_name, key="dir/obj.bin"))
    assert g.status_code == 200
    assert g.body.read() == data
    assert g.content_length == len(data)
    assert g.etag == h.quoted_etag(data)
    assert g.hash_crc64 == str(h.crc64(data))
    assert g.object_type == "Normal"
    assert g.storage_class == "Standard"
    assert g.last_modified is not None


def test_v2_get_object_to_file_checks_crc(server, sig, bucket_name, tmp_path):
    # Client.get_object_to_file makes retry_max_attempts - 1 attempts (SDK quirk).
    v2 = h.v2_client(server, sig, retry_max_attempts=2)
    data = h.rand_bytes(300 * h.KB)
    v2.put_object(oss.PutObjectRequest(bucket=bucket_name, key="f.bin", body=data))
    out = tmp_path / "out.bin"
    r = v2.get_object_to_file(oss.GetObjectRequest(bucket=bucket_name, key="f.bin"), str(out))
    assert r.status_code == 200
    assert r.hash_crc64 == str(h.crc64(data))
    assert out.read_bytes() == data


def test_oss2_get_object_to_file_checks_crc(o2, tmp_path):
    data = h.rand_bytes(300 * h.KB)
    o2.put_object("f.bin", data)
    out = tmp_path / "out.bin"
    r = o2.get_object_to_file("f.bin", str(out))
    assert r.status == 200
    assert out.read_bytes() == data


def test_empty_object(o2, v2, bucket_name):
    r = o2.put_object("empty", b"")
    assert r.etag == "D41D8CD98F00B204E9800998ECF8427E"
    assert r.crc == 0
    assert o2.get_object("empty").read() == b""
    assert o2.head_object("empty").content_length == 0
    g = v2.get_object(oss.GetObjectRequest(bucket=bucket_name, key="empty"))
    assert g.body.read() == b""
    assert g.hash_crc64 == "0"


def test_overwrite_object(o2):
    o2.put_object("k", b"first version")
    o2.put_object("k", b"second")
    assert o2.get_object("k").read() == b"second"
    assert o2.head_object("k").content_length == 6


def test_put_object_chunked_transfer(o2):
    # A generator body makes requests use Transfer-Encoding: chunked (§5.2: allowed).
    parts = [h.rand_bytes(10000) for _ in range(5)]
    r = o2.put_object("chunked", iter(parts))
    data = b"".join(parts)
    assert r.etag == h.md5_hex_upper(data)
    assert o2.get_object("chunked").read() == data


@pytest.mark.parametrize("key", SPECIAL_KEYS)
def test_oss2_special_key_roundtrip(o2, key):
    data = ("payload for " + key).encode()
    o2.put_object(key, data)
    assert o2.get_object(key).read() == data
    assert o2.head_object(key).content_length == len(data)
    assert o2.get_object_meta(key).etag == h.md5_hex_upper(data)
    assert key in [o.key for o in o2.list_objects(max_keys=1000).object_list]
    assert o2.delete_object(key).status == 204
    assert o2.object_exists(key) is False


@pytest.mark.parametrize("key", SPECIAL_KEYS)
def test_v2_special_key_roundtrip(v2, bucket_name, key):
    data = ("payload for " + key).encode()
    v2.put_object(oss.PutObjectRequest(bucket=bucket_name, key=key, body=data))
    assert v2.get_object(oss.GetObjectRequest(bucket=bucket_name, key=key)).body.read() == data
    hd = v2.head_object(oss.HeadObjectRequest(bucket=bucket_name, key=key))
    assert hd.content_length == len(data)
    assert v2.is_object_exist(bucket_name, key) is True
    assert v2.delete_object(oss.DeleteObjectRequest(bucket=bucket_name, key=key)).status_code == 204
    assert v2.is_object_exist(bucket_name, key) is False


@pytest.mark.slow
def test_oss2_20mib_roundtrip(o2):
    data = h.rand_bytes(20 * h.MB)
    r = o2.put_object("big/20mib.bin", data)
    assert r.etag == h.md5_hex_upper(data)
    assert r.crc == h.crc64(data)
    g = o2.get_object("big/20mib.bin")
    md5 = hashlib.md5()
    for chunk in g:
        md5.update(chunk)
    assert md5.hexdigest() == hashlib.md5(data).hexdigest()
    assert g.client_crc == g.server_crc == h.crc64(data)


@pytest.mark.slow
def test_v2_20mib_roundtrip(v2, bucket_name):
    data = h.rand_bytes(20 * h.MB)
    r = v2.put_object(oss.PutObjectRequest(bucket=bucket_name, key="big/20mib.bin", body=data))
    assert r.hash_crc64 == str(h.crc64(data))
    g = v2.get_object(oss.GetObjectRequest(bucket=bucket_name, key="big/20mib.bin"))
    md5 = hashlib.md5()
    for chunk in g.body.iter_bytes():
        md5.update(chunk)
    assert md5.hexdigest() == hashlib.md5(data).hexdigest()
    assert g.content_length == len(data)


# ---------------------------------------------------------------- Head / GetObjectMeta

def test_oss2_head_object(o2):
    data = b"hello head"
    o2.put_object("h.txt", data, headers={"x-oss-meta-color": "blue"})
    r = o2.head_object("h.txt")
    assert r.status == 200
    assert r.content_length == len(data)
    assert r.etag == h.md5_hex_upper(data)
    assert r.content_type == "text/plain"
    assert r.object_type == "Normal"
    assert r.server_crc == h.crc64(data)
    assert abs(r.last_modified - time.time()) < 600
    assert r.headers["x-oss-meta-color"] == "blue"
    assert r.headers.get("x-oss-storage-class") == "Standard"
    assert h.REQUEST_ID_RE.match(r.request_id)


def test_v2_head_object(v2, bucket_name):
    data = b"hello head v2"
    v2.put_object(oss.PutObjectRequest(bucket=bucket_name, key="h.txt", body=data,
                                       metadata={"color": "green"}))
    r = v2.head_object(oss.HeadObjectRequest(bucket=bucket_name, key="h.txt"))
    assert r.status_code == 200
    assert r.content_length == len(data)
    assert r.etag == h.quoted_etag(data)
    assert r.content_type == "text/plain"
    assert r.object_type == "Normal"
    assert r.storage_class == "Standard"
    assert r.hash_crc64 == str(h.crc64(data))
    assert r.metadata["color"] == "green"
    assert r.last_modified is not None


def test_get_object_meta(o2, v2, bucket_name):
    data = b"meta only"
    o2.put_object("m", data)
    r = o2.get_object_meta("m")
    assert r.status == 200
    assert r.etag == h.md5_hex_upper(data)
    assert r.content_length == len(data)
    assert abs(r.last_modified - time.time()) < 600
    assert r.headers.get("x-oss-hash-crc64ecma") == str(h.crc64(data))
    r2 = v2.get_object_meta(oss.GetObjectMetaRequest(bucket=bucket_name, key="m"))
    assert r2.etag == h.quoted_etag(data)
    assert r2.content_length == len(data)
    assert r2.last_modified is not None


def test_get_object_meta_missing_key(o2, v2, bucket_name):
    with pytest.raises(oss2.exceptions.NoSuchKey) as ei:
        o2.get_object_meta("missing")
    h.assert_oss2_error(ei.value, 404, "NoSuchKey")
    with pytest.raises(oss.exceptions.OperationError) as ei:
        v2.get_object_meta(oss.GetObjectMetaRequest(bucket=bucket_name, key="missing"))
    h.assert_v2_error(ei, 404, "NoSuchKey")


# ---------------------------------------------------------------- metadata & headers

def test_user_metadata_roundtrip(o2, v2, bucket_name):
    o2.put_object("meta", b"x", headers={
        "x-oss-meta-author": "alice",
        "x-oss-meta-Mixed-Case": "Some Value",
        "x-oss-meta-empty-ish": "-",
    })
    r = o2.head_object("meta")
    assert r.headers["x-oss-meta-author"] == "alice"
    assert r.headers["x-oss-meta-mixed-case"] == "Some Value"
    assert r.headers["x-oss-meta-empty-ish"] == "-"
    g = o2.get_object("meta")
    g.read()
    assert g.headers["x-oss-meta-author"] == "alice"
    md = v2.head_object(oss.HeadObjectRequest(bucket=bucket_name, key="meta")).metadata
    assert md["author"] == "alice"
    assert md["mixed-case"] == "Some Value"


def test_standard_headers_roundtrip(o2):
    headers = {
        "Content-Type": "application/x-coffer-test",
        "Content-Disposition": 'attachment; filename="report.pdf"',
        "Cache-Control": "no-cache",
        "Expires": "Wed, 21 Oct 2015 07:28:00 GMT",
    }
    o2.put_object("std", b"body", headers=headers)
    r = o2.head_object("std")
    for k, v in headers.items():
        assert r.headers.get(k) == v, k
    g = o2.get_object("std")
    assert g.read() == b"body"
    for k, v in headers.items():
        assert g.headers.get(k) == v, k


def test_default_content_type_is_octet_stream(o2):
    # oss2 sends no Content-Type for a key without a known extension (it only guesses from
    # the extension), so the server picks the default: application/octet-stream.
    o2.put_object("no_extension", b"x")
    assert o2.head_object("no_extension").content_type == "application/octet-stream"


def test_sdk_guessed_content_type_is_stored(o2, v2, bucket_name):
    # Both SDKs set Content-Type from the key's extension; the server must store it.
    o2.put_object("page.html", b"<html/>")
    assert o2.head_object("page.html").content_type == "text/html"
    v2.put_object(oss.PutObjectRequest(bucket=bucket_name, key="pic.jpg", body=b"\xff\xd8"))
    r = v2.head_object(oss.HeadObjectRequest(bucket=bucket_name, key="pic.jpg"))
    assert r.content_type == "image/jpeg"


def test_put_object_storage_class_ia(o2):
    o2.put_object("ia", b"cold", headers={"x-oss-storage-class": "IA"})
    assert o2.head_object("ia").headers.get("x-oss-storage-class") == "IA"


# ---------------------------------------------------------------- Content-MD5

def test_content_md5_ok(o2, v2, bucket_name):
    data = b"0123456789"
    assert h.md5_b64(data) == "eB5eJF1ptWaXm4bijSPyxw=="
    r = o2.put_object("md5", data, headers={"Content-MD5": h.md5_b64(data)})
    assert r.status == 200
    r = v2.put_object(oss.PutObjectRequest(bucket=bucket_name, key="md5v2", body=data,
                                           content_md5=h.md5_b64(data)))
    assert r.status_code == 200


def test_content_md5_mismatch_is_invalid_digest(o2, v2, bucket_name):
    with pytest.raises(oss2.exceptions.InvalidDigest) as ei:
        o2.put_object("md5bad", b"actual body", headers={"Content-MD5": h.md5_b64(b"other")})
    h.assert_oss2_error(ei.value, 400, "InvalidDigest")
    assert o2.object_exists("md5bad") is False

    with pytest.raises(oss.exceptions.OperationError) as ei:
        v2.put_object(oss.PutObjectRequest(bucket=bucket_name, key="md5bad2", body=b"actual",
                                           content_md5=h.md5_b64(b"different")))
    h.assert_v2_error(ei, 400, "InvalidDigest")


# ---------------------------------------------------------------- Delete

def test_oss2_delete_object(o2):
    o2.put_object("del", b"x")
    r = o2.delete_object("del")
    assert r.status == 204
    with pytest.raises(oss2.exceptions.NoSuchKey):
        o2.get_object("del")
    # §5.2: DeleteObject returns 204 even if the key does not exist.
    assert o2.delete_object("del").status == 204
    assert o2.delete_object("never-existed").status == 204


def test_v2_delete_object_missing_is_204(v2, bucket_name):
    r = v2.delete_object(oss.DeleteObjectRequest(bucket=bucket_name, key="never-existed"))
    assert r.status_code == 204


def test_oss2_batch_delete_verbose(o2):
    keys = ["a", "b c", "d+e%f", "ü/汉字", "x&<>y", "dir/sub/z"]
    for k in keys:
        o2.put_object(k, b"1")
    o2.put_object("keep", b"1")
    r = o2.batch_delete_objects(keys)  # oss2 sends Quiet=false, encoding-type=url
    assert r.status == 200
    assert sorted(r.deleted_keys) == sorted(keys)
    remaining = [o.key for o in o2.list_objects().object_list]
    assert remaining == ["keep"]


def test_v2_delete_multiple_quiet_and_verbose(v2, bucket_name):
    for k in ["q1", "q2", "v1", "v 2&<"]:
        v2.put_object(oss.PutObjectRequest(bucket=bucket_name, key=k, body=b"1"))

    r = v2.delete_multiple_objects(oss.DeleteMultipleObjectsRequest(
        bucket=bucket_name, quiet=True,
        objects=[oss.DeleteObject(key="q1"), oss.DeleteObject(key="q2")]))
    assert r.status_code == 200
    assert not r.deleted_objects  # quiet mode: no <Deleted> entries

    r = v2.delete_multiple_objects(oss.DeleteMultipleObjectsRequest(
        bucket=bucket_name, quiet=False,
        objects=[oss.DeleteObject(key="v1"), oss.DeleteObject(key="v 2&<")]))
    assert r.status_code == 200
    assert sorted(d.key for d in r.deleted_objects) == ["v 2&<", "v1"]

    listed = v2.list_objects_v2(oss.ListObjectsV2Request(bucket=bucket_name))
    assert not listed.contents


# ---------------------------------------------------------------- Object ACL

def test_oss2_object_acl(o2):
    o2.put_object("acl", b"x")
    assert o2.get_object_acl("acl").acl == oss2.OBJECT_ACL_DEFAULT
    for acl in (oss2.OBJECT_ACL_PUBLIC_READ, oss2.OBJECT_ACL_PUBLIC_READ_WRITE,
                oss2.OBJECT_ACL_PRIVATE, oss2.OBJECT_ACL_DEFAULT):
        assert o2.put_object_acl("acl", acl).status == 200
        assert o2.get_object_acl("acl").acl == acl


def test_object_acl_set_at_put(o2):
    o2.put_object("acl2", b"x", headers={"x-oss-object-acl": "public-read"})
    assert o2.get_object_acl("acl2").acl == "public-read"


def test_v2_object_acl(v2, bucket_name):
    v2.put_object(oss.PutObjectRequest(bucket=bucket_name, key="acl", body=b"x"))
    assert v2.get_object_acl(oss.GetObjectAclRequest(bucket=bucket_name, key="acl")).acl == "default"
    r = v2.put_object_acl(oss.PutObjectAclRequest(bucket=bucket_name, key="acl", acl="public-read"))
    assert r.status_code == 200
    g = v2.get_object_acl(oss.GetObjectAclRequest(bucket=bucket_name, key="acl"))
    assert g.acl == "public-read"
    assert g.owner is not None and g.owner.id


def test_object_acl_errors(o2):
    with pytest.raises(oss2.exceptions.NoSuchKey) as ei:
        o2.get_object_acl("missing")
    h.assert_oss2_error(ei.value, 404, "NoSuchKey")
    o2.put_object("acl3", b"x")
    with pytest.raises(oss2.exceptions.InvalidArgument) as ei:
        o2.put_object_acl("acl3", "everyone-can-write")
    h.assert_oss2_error(ei.value, 400, "InvalidArgument")


# ---------------------------------------------------------------- Range (§5.5)

@pytest.mark.parametrize("rng,start,end", [
    ("bytes=0-9", 0, 9),
    ("bytes=100-199", 100, 199),
    ("bytes=999-999", 999, 999),
    ("bytes=990-", 990, 999),     # open range
    ("bytes=-100", 900, 999),     # suffix range
    ("bytes=0-", 0, 999),
])
def test_oss2_valid_range(o2, obj1000, rng, start, end):
    key, data = obj1000
    g = o2.get_object(key, headers={"Range": rng})
    assert g.status == 206
    assert g.read() == data[start:end + 1]
    assert g.headers["Content-Range"] == "bytes %d-%d/1000" % (start, end)
    assert g.content_length == end - start + 1
    # §5.5: the CRC header on a range GET is the CRC of the whole object.
    assert g.server_crc == h.crc64(data)


def test_oss2_byte_range_tuple(o2, obj1000):
    key, data = obj1000
    assert o2.get_object(key, byte_range=(10, 19)).read() == data[10:20]
    assert o2.get_object(key, byte_range=(None, 10)).read() == data[-10:]
    assert o2.get_object(key, byte_range=(995, None)).read() == data[995:]


@pytest.mark.parametrize("rng", [
    "bytes=2000-3000",  # start past EOF
    "bytes=500-2000",   # end past EOF: invalid in the legacy (default) behaviour
    "bytes=9-0",        # start > end
    "bytes=abc",        # not a number
])
def test_invalid_range_returns_whole_object_by_default(o2, obj1000, rng):
    # §5.5: "An invalid range, by default, returns the whole object with 200 and no
    # Content-Range (legacy OSS behaviour)". Clamping an over-long end only happens with
    # x-oss-range-behavior: standard (see below).
    key, data = obj1000
    g = o2.get_object(key, headers={"Range": rng})
    assert g.status == 200
    assert g.read() == data
    assert "Content-Range" not in g.headers


def test_range_behavior_standard(o2, obj1000):
    key, data = obj1000
    std = {"x-oss-range-behavior": "standard"}
    g = o2.get_object(key, headers=dict(std, Range="bytes=500-2000"))
    assert g.status == 206
    assert g.read() == data[500:]
    assert g.headers["Content-Range"] == "bytes 500-999/1000"

    with pytest.raises(oss2.exceptions.ServerError) as ei:
        o2.get_object(key, headers=dict(std, Range="bytes=1000-1100"))
    h.assert_oss2_error(ei.value, 416, "InvalidRange")

    with pytest.raises(oss2.exceptions.ServerError) as ei:
        o2.get_object(key, headers=dict(std, Range="bytes=5000-"))
    h.assert_oss2_error(ei.value, 416, "InvalidRange")


def test_v2_range(v2, bucket_name):
    data = h.rand_bytes(1000)
    v2.put_object(oss.PutObjectRequest(bucket=bucket_name, key="r", body=data))
    g = v2.get_object(oss.GetObjectRequest(bucket=bucket_name, key="r", range_header="bytes=10-19"))
    assert g.status_code == 206
    assert g.body.read() == data[10:20]
    assert g.content_range == "bytes 10-19/1000"
    assert g.hash_crc64 == str(h.crc64(data))

    g = v2.get_object(oss.GetObjectRequest(bucket=bucket_name, key="r", range_header="bytes=-5"))
    assert g.body.read() == data[-5:]

    g = v2.get_object(oss.GetObjectRequest(bucket=bucket_name, key="r",
                                           range_header="bytes=1000-2000"))
    assert g.status_code == 200
    assert g.body.read() == data

    g = v2.get_object(oss.GetObjectRequest(bucket=bucket_name, key="r",
                                           range_header="bytes=900-2000",
                                           range_behavior="standard"))
    assert g.status_code == 206
    assert g.body.read() == data[900:]

    with pytest.raises(oss.exceptions.OperationError) as ei:
        v2.get_object(oss.GetObjectRequest(bucket=bucket_name, key="r",
                                           range_header="bytes=1000-2000",
                                           range_behavior="standard"))
    h.assert_v2_error(ei, 416, "InvalidRange")


def test_v2_ranged_downloader(v2, bucket_name, tmp_path):
    # The v2 downloader fetches in parallel Range requests and verifies the CRC-64.
    data = h.rand_bytes(700 * h.KB + 123)
    v2.put_object(oss.PutObjectRequest(bucket=bucket_name, key="dl", body=data))
    out = tmp_path / "dl.bin"
    d = v2.downloader(part_size=100 * h.KB, parallel_num=3)
    r = d.download_file(oss.GetObjectRequest(bucket=bucket_name, key="dl"), str(out))
    assert r.written == len(data)
    assert out.read_bytes() == data


def test_oss2_resumable_download(o2, tmp_path):
    data = h.rand_bytes(700 * h.KB + 7)
    o2.put_object("dl", data)
    out = tmp_path / "dl.bin"
    oss2.resumable_download(o2, "dl", str(out), multiget_threshold=100 * h.KB,
                            part_size=100 * h.KB, num_threads=3,
                            store=oss2.ResumableDownloadStore(root=str(tmp_path)))
    assert out.read_bytes() == data


# ---------------------------------------------------------------- conditional GET (§5.4)

def test_oss2_conditional_get(o2, obj1000):
    key, data = obj1000
    head = o2.head_object(key)
    etag = head.headers["ETag"]
    last_modified = head.headers["Last-Modified"]
    future = http_date(time.time() + 3600)
    past = http_date(time.time() - 365 * 86400)

    def get(headers):
        return o2.get_object(key, headers=headers).read()

    assert get({"If-Match": etag}) == data
    with pytest.raises(oss2.exceptions.PreconditionFailed) as ei:
        get({"If-Match": '"00000000000000000000000000000000"'})
    h.assert_oss2_error(ei.value, 412, "PreconditionFailed")

    with pytest.raises(oss2.exceptions.NotModified) as ei:
        get({"If-None-Match": etag})
    assert ei.value.status == 304
    assert get({"If-None-Match": '"00000000000000000000000000000000"'}) == data

    with pytest.raises(oss2.exceptions.NotModified):
        get({"If-Modified-Since": future})
    with pytest.raises(oss2.exceptions.NotModified):
        get({"If-Modified-Since": last_modified})  # not modified *after* that instant
    assert get({"If-Modified-Since": past}) == data
    assert get({"If-Modified-Since": "not a date"}) == data  # invalid date is ignored

    assert get({"If-Unmodified-Since": future}) == data
    assert get({"If-Unmodified-Since": last_modified}) == data
    with pytest.raises(oss2.exceptions.PreconditionFailed) as ei:
        get({"If-Unmodified-Since": past})
    h.assert_oss2_error(ei.value, 412, "PreconditionFailed")


def test_oss2_conditional_head(o2, obj1000):
    key, _ = obj1000
    etag = o2.head_object(key).headers["ETag"]
    with pytest.raises(oss2.exceptions.NotModified) as ei:
        o2.head_object(key, headers={"If-None-Match": etag})
    assert ei.value.status == 304
    with pytest.raises(oss2.exceptions.PreconditionFailed) as ei:
        o2.head_object(key, headers={"If-Match": '"0123456789ABCDEF0123456789ABCDEF"'})
    assert ei.value.status == 412
    assert ei.value.code == "PreconditionFailed"  # decoded from x-oss-err
    assert o2.head_object(key, headers={"If-Match": etag}).status == 200


def test_v2_conditional_get(v2, bucket_name):
    data = b"conditional"
    put = v2.put_object(oss.PutObjectRequest(bucket=bucket_name, key="c", body=data))
    etag = put.etag
    future = http_date(time.time() + 3600)
    past = http_date(time.time() - 365 * 86400)

    g = v2.get_object(oss.GetObjectRequest(bucket=bucket_name, key="c", if_match=etag))
    assert g.body.read() == data
    with pytest.raises(oss.exceptions.OperationError) as ei:
        v2.get_object(oss.GetObjectRequest(bucket=bucket_name, key="c", if_match='"ABC"'))
    h.assert_v2_error(ei, 412, "PreconditionFailed")
    with pytest.raises(oss.exceptions.OperationError) as ei:
        v2.get_object(oss.GetObjectRequest(bucket=bucket_name, key="c", if_none_match=etag))
    assert h.v2_error(ei).status_code == 304
    with pytest.raises(oss.exceptions.OperationError) as ei:
        v2.get_object(oss.GetObjectRequest(bucket=bucket_name, key="c", if_modified_since=future))
    assert h.v2_error(ei).status_code == 304
    with pytest.raises(oss.exceptions.OperationError) as ei:
        v2.get_object(oss.GetObjectRequest(bucket=bucket_name, key="c", if_unmodified_since=past))
    h.assert_v2_error(ei, 412, "PreconditionFailed")
    g = v2.get_object(oss.GetObjectRequest(bucket=bucket_name, key="c", if_modified_since=past,
                                           if_unmodified_since=future))
    assert g.body.read() == data


# ---------------------------------------------------------------- response-* overrides

OVERRIDES = {
    "response-content-type": "text/x-override",
    "response-content-language": "fr-CA",
    "response-expires": "Thu, 01 Dec 1994 16:00:00 GMT",
    "response-cache-control": "max-age=42",
    "response-content-disposition": 'attachment; filename="o.txt"',
}
OVERRIDE_HEADERS = {
    "response-content-type": "Content-Type",
    "response-content-language": "Content-Language",
    "response-expires": "Expires",
    "response-cache-control": "Cache-Control",
    "response-content-disposition": "Content-Disposition",
}


def test_oss2_response_overrides(o2):
    o2.put_object("ov.bin", b"override me", headers={"Content-Type": "application/x-original"})
    g = o2.get_object("ov.bin", params=dict(OVERRIDES))
    assert g.read() == b"override me"
    for param, header in OVERRIDE_HEADERS.items():
        assert g.headers.get(header) == OVERRIDES[param], header
    # the stored metadata is unchanged
    assert o2.head_object("ov.bin").content_type == "application/x-original"


def test_v2_response_overrides(v2, bucket_name):
    v2.put_object(oss.PutObjectRequest(bucket=bucket_name, key="ov", body=b"x",
                                       content_type="application/x-original"))
    g = v2.get_object(oss.GetObjectRequest(
        bucket=bucket_name, key="ov",
        response_content_type=OVERRIDES["response-content-type"],
        response_content_language=OVERRIDES["response-content-language"],
        response_expires=OVERRIDES["response-expires"],
        response_cache_control=OVERRIDES["response-cache-control"],
        response_content_disposition=OVERRIDES["response-content-disposition"]))
    assert g.body.read() == b"x"
    assert g.content_type == OVERRIDES["response-content-type"]
    assert g.headers.get("Content-Language") == OVERRIDES["response-content-language"]
    assert g.expires == OVERRIDES["response-expires"]
    assert g.cache_control == OVERRIDES["response-cache-control"]
    assert g.content_disposition == OVERRIDES["response-content-disposition"]


# ---------------------------------------------------------------- key limits (§4.3)

def test_key_1023_bytes_ok(o2, v2, bucket_name):
    key = "k" * 1023
    o2.put_object(key, b"long key")
    assert o2.get_object(key).read() == b"long key"
    key3 = "汉" * 341  # 341 * 3 = 1023 UTF-8 bytes
    assert len(key3.encode()) == 1023
    v2.put_object(oss.PutObjectRequest(bucket=bucket_name, key=key3, body=b"cjk"))
    assert v2.get_object(oss.GetObjectRequest(bucket=bucket_name, key=key3)).body.read() == b"cjk"
    keys = [o.key for o in o2.list_objects().object_list]
    assert key in keys and key3 in keys


def test_key_1024_bytes_invalid(o2, v2, bucket_name):
    with pytest.raises(oss2.exceptions.InvalidObjectName) as ei:
        o2.put_object("k" * 1024, b"x")
    h.assert_oss2_error(ei.value, 400, "InvalidObjectName")
    key = "汉" * 341 + "k"  # 1024 bytes, 342 characters
    with pytest.raises(oss.exceptions.OperationError) as ei:
        v2.put_object(oss.PutObjectRequest(bucket=bucket_name, key=key, body=b"x"))
    h.assert_v2_error(ei, 400, "InvalidObjectName")


def test_key_starting_with_backslash_invalid(o2):
    # §4.3 InvalidObjectName: names "must not start with / or \".
    with pytest.raises(oss2.exceptions.InvalidObjectName) as ei:
        o2.put_object("\\leading-backslash", b"x")
    h.assert_oss2_error(ei.value, 400, "InvalidObjectName")
