"""Multipart upload: Initiate, UploadPart, UploadPartCopy, Complete, Abort, ListParts,
ListMultipartUploads, errors, and the SDKs' resumable upload / uploader helpers
(reference §4.3, §5.2, §5.3, §5.6, §5.7)."""
import io
import xml.etree.ElementTree as ET

import oss2
import pytest
import alibabacloud_oss_v2 as oss

import sdkhelpers as h

PART = 100 * h.KB  # minimum size of every part but the last (§5.2)


def _upload_parts(b, key, upload_id, chunks, start=1):
    """Upload chunks with oss2; returns PartInfo list carrying size and CRC (so that oss2
    verifies the combined CRC-64 at Complete)."""
    parts = []
    for i, chunk in enumerate(chunks, start):
        r = b.upload_part(key, upload_id, i, chunk)
        assert r.status == 200
        assert r.etag == h.md5_hex_upper(chunk)
        assert r.crc == h.crc64(chunk)
        parts.append(oss2.models.PartInfo(i, r.etag, size=len(chunk), part_crc=r.crc))
    return parts


# ---------------------------------------------------------------- happy paths

def test_oss2_multipart_full_cycle(o2, bucket_name):
    key = "mp/object.bin"
    chunks = [h.rand_bytes(PART), h.rand_bytes(PART), h.rand_bytes(50 * h.KB + 3)]
    data = b"".join(chunks)

    init = o2.init_multipart_upload(key, headers={"x-oss-meta-stage": "init",
                                                  "Content-Type": "application/x-mp"})
    assert init.status == 200
    assert init.upload_id
    parts = _upload_parts(o2, key, init.upload_id, chunks)

    lp = o2.list_parts(key, init.upload_id)
    assert lp.is_truncated is False
    assert [(p.part_number, p.etag, p.size) for p in lp.parts] == \
        [(p.part_number, p.etag, p.size) for p in parts]
    for p in lp.parts:
        assert p.last_modified > 0

    done = o2.complete_multipart_upload(key, init.upload_id, parts)
    assert done.status == 200
    assert h.REQUEST_ID_RE.match(done.request_id)
    # oss2 checked the combined CRC (§5.7) if the header is present; it must be present.
    assert done.crc == h.crc64(data)
    root = ET.fromstring(done.resp.read())
    assert root.tag == "CompleteMultipartUploadResult"
    assert root.findtext("Bucket") == bucket_name
    assert root.findtext("Key") == key
    etag = root.findtext("ETag")
    m = h.MULTIPART_ETAG_RE.match(etag)
    assert m and m.group(1) == "3", etag

    g = o2.get_object(key)
    assert g.read() == data
    assert g.object_type == "Multipart"
    assert g.headers["ETag"].strip('"') == etag.strip('"')
    assert g.server_crc == h.crc64(data)
    assert g.headers["x-oss-meta-stage"] == "init"
    assert g.headers["Content-Type"] == "application/x-mp"
    listed = o2.list_objects(prefix="mp/").object_list
    assert [(o.key, o.type, o.size) for o in listed] == [(key, "Multipart", len(data))]

    # the upload is gone
    assert o2.list_multipart_uploads().upload_list == []
    with pytest.raises(oss2.exceptions.NoSuchUpload) as ei:
        o2.list_parts(key, init.upload_id)
    h.assert_oss2_error(ei.value, 404, "NoSuchUpload")


def test_v2_multipart_full_cycle(v2, bucket_name):
    key = "mp/v2 object+1.bin"
    chunks = [h.rand_bytes(PART), h.rand_bytes(PART + 1), h.rand_bytes(10)]
    data = b"".join(chunks)
    init = v2.initiate_multipart_upload(oss.InitiateMultipartUploadRequest(
        bucket=bucket_name, key=key, metadata={"via": "v2"}))
    assert init.status_code == 200
    assert init.bucket == bucket_name
    assert init.key == key
    assert init.upload_id

    parts = []
    for i, chunk in enumerate(chunks, 1):
        r = v2.upload_part(oss.UploadPartRequest(bucket=bucket_name, key=key, part_number=i,
                                                 upload_id=init.upload_id, body=chunk))
        assert r.etag == h.quoted_etag(chunk)
        assert r.hash_crc64 == str(h.crc64(chunk))
        parts.append(oss.UploadPart(part_number=i, etag=r.etag))

    lp = v2.list_parts(oss.ListPartsRequest(bucket=bucket_name, key=key, upload_id=init.upload_id))
    assert lp.key == key
    assert lp.upload_id == init.upload_id
    assert [(p.part_number, p.size) for p in lp.parts] == [(1, PART), (2, PART + 1), (3, 10)]

    done = v2.complete_multipart_upload(oss.CompleteMultipartUploadRequest(
        bucket=bucket_name, key=key, upload_id=init.upload_id,
        complete_multipart_upload=oss.CompleteMultipartUpload(parts=parts)))
    assert done.status_code == 200
    assert done.bucket == bucket_name
    assert done.key == key
    assert h.MULTIPART_ETAG_RE.match(done.etag).group(1) == "3"
    assert done.hash_crc64 == str(h.crc64(data))
    g = v2.get_object(oss.GetObjectRequest(bucket=bucket_name, key=key))
    assert g.body.read() == data
    assert g.object_type == "Multipart"
    assert g.metadata["via"] == "v2"


def test_multipart_gapped_part_numbers(o2):
    # Part numbers must ascend but need not be consecutive (§5.3).
    key = "gapped"
    uid = o2.init_multipart_upload(key).upload_id
    chunks = {1: h.rand_bytes(PART), 5: h.rand_bytes(PART), 9: b"end"}
    parts = []
    for n, c in chunks.items():
        r = o2.upload_part(key, uid, n, c)
        parts.append(oss2.models.PartInfo(n, r.etag, size=len(c), part_crc=r.crc))
    o2.complete_multipart_upload(key, uid, parts)
    assert o2.get_object(key).read() == chunks[1] + chunks[5] + chunks[9]


def test_upload_part_overwrite_last_wins(o2):
    key = "overwrite-part"
    uid = o2.init_multipart_upload(key).upload_id
    o2.upload_part(key, uid, 1, h.rand_bytes(PART))
    final = h.rand_bytes(PART)
    r = o2.upload_part(key, uid, 1, final)
    lp = o2.list_parts(key, uid)
    assert [(p.part_number, p.etag) for p in lp.parts] == [(1, r.etag)]
    o2.complete_multipart_upload(key, uid, [oss2.models.PartInfo(1, r.etag)])
    assert o2.get_object(key).read() == final


def test_complete_overwrites_existing_object(o2):
    o2.put_object("exists", b"old")
    uid = o2.init_multipart_upload("exists").upload_id
    r = o2.upload_part("exists", uid, 1, b"new")
    o2.complete_multipart_upload("exists", uid, [oss2.models.PartInfo(1, r.etag)])
    assert o2.get_object("exists").read() == b"new"


def test_v2_complete_all(v2, bucket_name):
    # §5.2: header x-oss-complete-all: yes with no body completes with every uploaded part.
    key = "complete-all"
    uid = v2.initiate_multipart_upload(oss.InitiateMultipartUploadRequest(
        bucket=bucket_name, key=key)).upload_id
    chunks = [h.rand_bytes(PART), b"last"]
    for i, c in enumerate(chunks, 1):
        v2.upload_part(oss.UploadPartRequest(bucket=bucket_name, key=key, part_number=i,
                                             upload_id=uid, body=c))
    done = v2.complete_multipart_upload(oss.CompleteMultipartUploadRequest(
        bucket=bucket_name, key=key, upload_id=uid, complete_all="yes"))
    assert done.status_code == 200
    g = v2.get_object(oss.GetObjectRequest(bucket=bucket_name, key=key))
    assert g.body.read() == b"".join(chunks)


# ---------------------------------------------------------------- listing

def test_oss2_list_multipart_uploads(o2):
    ids = {}
    for key in ["u/a", "u/a", "u/b", "v/c", "w"]:
        ids.setdefault(key, []).append(o2.init_multipart_upload(key).upload_id)
    all_uploads = sorted((k, u) for k, us in ids.items() for u in us)

    r = o2.list_multipart_uploads()
    assert r.is_truncated is False
    got = [(u.key, u.upload_id) for u in r.upload_list]
    assert sorted(got) == all_uploads
    assert [k for k, _ in got] == sorted(k for k, _ in got)  # ordered by key
    for u in r.upload_list:
        assert u.initiation_date > 0

    r = o2.list_multipart_uploads(prefix="u/")
    assert sorted(u.key for u in r.upload_list) == ["u/a", "u/a", "u/b"]

    r = o2.list_multipart_uploads(delimiter="/")
    assert [u.key for u in r.upload_list] == ["w"]
    assert r.prefix_list == ["u/", "v/"]

    # paging with key-marker / upload-id-marker
    got, km, um = [], "", ""
    for _ in range(20):
        r = o2.list_multipart_uploads(key_marker=km, upload_id_marker=um, max_uploads=2)
        assert len(r.upload_list) <= 2
        got += [(u.key, u.upload_id) for u in r.upload_list]
        if not r.is_truncated:
            break
        km, um = r.next_key_marker, r.next_upload_id_marker
    assert sorted(got) == all_uploads
    assert len(got) == len(all_uploads)


def test_v2_list_multipart_uploads(v2, bucket_name):
    keys = ["x/1", "x/2", "y"]
    ids = {}
    for k in keys:
        ids[k] = v2.initiate_multipart_upload(oss.InitiateMultipartUploadRequest(
            bucket=bucket_name, key=k)).upload_id
    r = v2.list_multipart_uploads(oss.ListMultipartUploadsRequest(bucket=bucket_name))
    assert r.bucket == bucket_name
    assert [(u.key, u.upload_id) for u in r.uploads] == [(k, ids[k]) for k in keys]
    assert all(u.initiated is not None for u in r.uploads)
    pages = list(v2.list_multipart_uploads_paginator(limit=1).iter_page(
        oss.ListMultipartUploadsRequest(bucket=bucket_name)))
    assert [u.key for p in pages for u in (p.uploads or [])] == keys


def test_list_parts_paging(o2, v2, bucket_name):
    key = "parts"
    uid = o2.init_multipart_upload(key).upload_id
    for i in range(1, 6):
        o2.upload_part(key, uid, i, h.rand_bytes(10 * h.KB))
    r = o2.list_parts(key, uid, max_parts=2)
    assert [p.part_number for p in r.parts] == [1, 2]
    assert r.is_truncated is True
    assert str(r.next_marker) == "2"
    r = o2.list_parts(key, uid, marker=r.next_marker, max_parts=2)
    assert [p.part_number for p in r.parts] == [3, 4]
    r = o2.list_parts(key, uid, marker=r.next_marker, max_parts=2)
    assert [p.part_number for p in r.parts] == [5]
    assert r.is_truncated is False
    assert [p.part_number for p in oss2.PartIterator(o2, key, uid, max_parts=3)] == [1, 2, 3, 4, 5]

    pages = list(v2.list_parts_paginator(limit=2).iter_page(
        oss.ListPartsRequest(bucket=bucket_name, key=key, upload_id=uid)))
    assert [p.part_number for pg in pages for p in (pg.parts or [])] == [1, 2, 3, 4, 5]


# ---------------------------------------------------------------- abort / NoSuchUpload

def test_abort_multipart_upload(o2):
    key = "aborted"
    uid = o2.init_multipart_upload(key).upload_id
    r = o2.upload_part(key, uid, 1, h.rand_bytes(PART))
    ab = o2.abort_multipart_upload(key, uid)
    assert ab.status == 204
    assert o2.list_multipart_uploads().upload_list == []
    for call in (lambda: o2.upload_part(key, uid, 2, b"x"),
                 lambda: o2.list_parts(key, uid),
                 lambda: o2.complete_multipart_upload(key, uid, [oss2.models.PartInfo(1, r.etag)]),
                 lambda: o2.abort_multipart_upload(key, uid)):
        with pytest.raises(oss2.exceptions.NoSuchUpload) as ei:
            call()
        h.assert_oss2_error(ei.value, 404, "NoSuchUpload")
    assert o2.object_exists(key) is False


def test_unknown_upload_id(o2, v2, bucket_name):
    with pytest.raises(oss2.exceptions.NoSuchUpload) as ei:
        o2.upload_part("k", "0004B9894A22E5B1888A1E29F8230000", 1, b"x")
    h.assert_oss2_error(ei.value, 404, "NoSuchUpload")
    with pytest.raises(oss.exceptions.OperationError) as ei:
        v2.abort_multipart_upload(oss.AbortMultipartUploadRequest(
            bucket=bucket_name, key="k", upload_id="0004B9894A22E5B1888A1E29F8230000"))
    h.assert_v2_error(ei, 404, "NoSuchUpload")


def test_upload_id_bound_to_key(o2):
    uid = o2.init_multipart_upload("key-a").upload_id
    with pytest.raises(oss2.exceptions.NoSuchUpload):
        o2.upload_part("key-b", uid, 1, b"x")


# ---------------------------------------------------------------- Complete errors (§4.3)

def test_complete_invalid_part_wrong_etag(o2):
    key = "invalid-part"
    uid = o2.init_multipart_upload(key).upload_id
    o2.upload_part(key, uid, 1, b"data")
    with pytest.raises(oss2.exceptions.ServerError) as ei:
        o2.complete_multipart_upload(key, uid, [
            oss2.models.PartInfo(1, "0123456789ABCDEF0123456789ABCDEF")])
    h.assert_oss2_error(ei.value, 400, "InvalidPart")
    assert o2.object_exists(key) is False
    # the upload is still there
    assert [u.upload_id for u in o2.list_multipart_uploads().upload_list] == [uid]


def test_complete_invalid_part_not_uploaded(o2):
    key = "missing-part"
    uid = o2.init_multipart_upload(key).upload_id
    r = o2.upload_part(key, uid, 1, h.rand_bytes(PART))
    with pytest.raises(oss2.exceptions.ServerError) as ei:
        o2.complete_multipart_upload(key, uid, [
            oss2.models.PartInfo(1, r.etag), oss2.models.PartInfo(2, r.etag)])
    h.assert_oss2_error(ei.value, 400, "InvalidPart")


def test_complete_invalid_part_order(v2, bucket_name):
    # oss2 sorts the parts itself; the v2 SDK sends them in the given order.
    key = "order"
    uid = v2.initiate_multipart_upload(oss.InitiateMultipartUploadRequest(
        bucket=bucket_name, key=key)).upload_id
    etags = {}
    for i in (1, 2):
        etags[i] = v2.upload_part(oss.UploadPartRequest(
            bucket=bucket_name, key=key, part_number=i, upload_id=uid,
            body=h.rand_bytes(PART))).etag
    with pytest.raises(oss.exceptions.OperationError) as ei:
        v2.complete_multipart_upload(oss.CompleteMultipartUploadRequest(
            bucket=bucket_name, key=key, upload_id=uid,
            complete_multipart_upload=oss.CompleteMultipartUpload(parts=[
                oss.UploadPart(part_number=2, etag=etags[2]),
                oss.UploadPart(part_number=1, etag=etags[1])])))
    h.assert_v2_error(ei, 400, "InvalidPartOrder")


def test_complete_entity_too_small(o2):
    # Every part but the last must be >= 100 KB, checked at Complete (§5.2).
    key = "too-small"
    uid = o2.init_multipart_upload(key).upload_id
    parts = _upload_parts(o2, key, uid, [h.rand_bytes(PART - 1), h.rand_bytes(10)])
    with pytest.raises(oss2.exceptions.ServerError) as ei:
        o2.complete_multipart_upload(key, uid, parts)
    h.assert_oss2_error(ei.value, 400, "EntityTooSmall")
    assert o2.object_exists(key) is False


def test_single_small_part_is_fine(o2):
    key = "one-small-part"
    uid = o2.init_multipart_upload(key).upload_id
    parts = _upload_parts(o2, key, uid, [b"tiny"])
    o2.complete_multipart_upload(key, uid, parts)
    assert o2.get_object(key).read() == b"tiny"


@pytest.mark.parametrize("part_number", [0, 10001])
def test_upload_part_bad_part_number(o2, part_number):
    # Real OSS: 400 InvalidArgument "Part number must be an integer between 1 and 10000,
    # inclusive." (EC 0017-00000220, https://help.aliyun.com/en/oss/user-guide/0017-00000220).
    # Reference §4.3 lists the same message under InvalidPartOrder; the EC page is the
    # service's own statement for UploadPart, so that is what is asserted here.
    key = "bad-part-number"
    uid = o2.init_multipart_upload(key).upload_id
    with pytest.raises(oss2.exceptions.InvalidArgument) as ei:
        o2.upload_part(key, uid, part_number, b"x")
    h.assert_oss2_error(ei.value, 400, "InvalidArgument")


def test_upload_part_number_10000_ok(o2):
    key = "max-part-number"
    uid = o2.init_multipart_upload(key).upload_id
    r = o2.upload_part(key, uid, 10000, b"last possible part")
    o2.complete_multipart_upload(key, uid, [oss2.models.PartInfo(10000, r.etag)])
    assert o2.get_object(key).read() == b"last possible part"


# ---------------------------------------------------------------- UploadPartCopy

def test_oss2_upload_part_copy_with_range(o2, bucket_name, make_bucket, server, sig):
    src_bucket = make_bucket()
    src_data = h.rand_bytes(3 * PART)
    h.oss2_bucket(server, src_bucket, "v1").put_object("src/big.bin", src_data)
    o2.put_object("local-src", src_data)

    key = "assembled"
    uid = o2.init_multipart_upload(key).upload_id
    parts = []
    # part 1: first 100 KB from another bucket
    r = o2.upload_part_copy(src_bucket, "src/big.bin", (0, PART - 1), key, uid, 1)
    assert r.status == 200
    assert r.etag, "UploadPartCopy must return an ETag header (oss2 reads it from there)"
    parts.append(oss2.models.PartInfo(1, r.etag))
    # part 2: the last 200 KB from the same bucket
    r = o2.upload_part_copy(bucket_name, "local-src", (PART, 3 * PART - 1), key, uid, 2)
    parts.append(oss2.models.PartInfo(2, r.etag))
    # part 3: whole source object, no range
    r = o2.upload_part_copy(bucket_name, "local-src", None, key, uid, 3)
    parts.append(oss2.models.PartInfo(3, r.etag))
    # part 4: ordinary upload
    r = o2.upload_part(key, uid, 4, b"trailer")
    parts.append(oss2.models.PartInfo(4, r.etag))

    lp = o2.list_parts(key, uid)
    assert [(p.part_number, p.size) for p in lp.parts] == \
        [(1, PART), (2, 2 * PART), (3, 3 * PART), (4, 7)]

    o2.complete_multipart_upload(key, uid, parts)
    expected = src_data[:PART] + src_data[PART:] + src_data + b"trailer"
    g = o2.get_object(key)
    assert g.read() == expected
    assert g.server_crc in (None, h.crc64(expected))


def test_oss2_upload_part_copy_result_xml(o2, bucket_name):
    o2.put_object("s", h.rand_bytes(PART))
    uid = o2.init_multipart_upload("d").upload_id
    r = o2.upload_part_copy(bucket_name, "s", (0, 99), "d", uid, 1)
    root = ET.fromstring(r.resp.read())
    assert root.tag == "CopyPartResult"
    assert root.findtext("ETag").strip('"') == r.etag
    assert root.findtext("LastModified")


def test_oss2_upload_part_copy_conditions_and_errors(o2, bucket_name):
    o2.put_object("s", b"source data")
    etag = o2.head_object("s").headers["ETag"]
    uid = o2.init_multipart_upload("d").upload_id
    r = o2.upload_part_copy(bucket_name, "s", None, "d", uid, 1,
                            headers={"x-oss-copy-source-if-match": etag})
    assert r.status == 200
    with pytest.raises(oss2.exceptions.PreconditionFailed) as ei:
        o2.upload_part_copy(bucket_name, "s", None, "d", uid, 2,
                            headers={"x-oss-copy-source-if-match": '"' + "0" * 32 + '"'})
    h.assert_oss2_error(ei.value, 412, "PreconditionFailed")
    with pytest.raises(oss2.exceptions.NotModified):
        o2.upload_part_copy(bucket_name, "s", None, "d", uid, 2,
                            headers={"x-oss-copy-source-if-none-match": etag})
    with pytest.raises(oss2.exceptions.NoSuchKey) as ei:
        o2.upload_part_copy(bucket_name, "nope", None, "d", uid, 2)
    h.assert_oss2_error(ei.value, 404, "NoSuchKey")
    with pytest.raises(oss2.exceptions.NoSuchUpload):
        o2.upload_part_copy(bucket_name, "s", None, "d", "0004B9894A22E5B1888A1E29F8230000", 2)


def test_v2_upload_part_copy(v2, bucket_name):
    src = h.rand_bytes(2 * PART)
    v2.put_object(oss.PutObjectRequest(bucket=bucket_name, key="src", body=src))
    uid = v2.initiate_multipart_upload(oss.InitiateMultipartUploadRequest(
        bucket=bucket_name, key="dst")).upload_id
    r1 = v2.upload_part_copy(oss.UploadPartCopyRequest(
        bucket=bucket_name, key="dst", part_number=1, upload_id=uid, source_key="src",
        source_range="bytes=%d-%d" % (PART, 2 * PART - 1)))
    assert r1.status_code == 200
    assert r1.etag
    assert r1.last_modified is not None
    r2 = v2.upload_part_copy(oss.UploadPartCopyRequest(
        bucket=bucket_name, key="dst", part_number=2, upload_id=uid, source_key="src",
        source_range="bytes=0-9"))
    v2.complete_multipart_upload(oss.CompleteMultipartUploadRequest(
        bucket=bucket_name, key="dst", upload_id=uid,
        complete_multipart_upload=oss.CompleteMultipartUpload(parts=[
            oss.UploadPart(part_number=1, etag=r1.etag),
            oss.UploadPart(part_number=2, etag=r2.etag)])))
    g = v2.get_object(oss.GetObjectRequest(bucket=bucket_name, key="dst"))
    assert g.body.read() == src[PART:] + src[:10]


# ---------------------------------------------------------------- SDK helpers

def test_oss2_resumable_upload_multipart(o2, tmp_path):
    data = h.rand_bytes(450 * h.KB + 17)
    f = tmp_path / "upload.bin"
    f.write_bytes(data)
    r = oss2.resumable_upload(o2, "resumable/big.bin", str(f),
                              store=oss2.ResumableStore(root=str(tmp_path)),
                              multipart_threshold=200 * h.KB, part_size=PART, num_threads=2)
    assert r.status == 200
    hd = o2.head_object("resumable/big.bin")
    assert hd.object_type == "Multipart"
    assert h.MULTIPART_ETAG_RE.match(hd.headers["ETag"]).group(1) == "5"
    assert hd.content_length == len(data)
    assert o2.get_object("resumable/big.bin").read() == data
    assert o2.list_multipart_uploads().upload_list == []


def test_oss2_resumable_upload_below_threshold_is_single_put(o2, tmp_path):
    data = h.rand_bytes(50 * h.KB)
    f = tmp_path / "small.bin"
    f.write_bytes(data)
    oss2.resumable_upload(o2, "resumable/small.bin", str(f),
                          store=oss2.ResumableStore(root=str(tmp_path)),
                          multipart_threshold=200 * h.KB, part_size=PART)
    hd = o2.head_object("resumable/small.bin")
    assert hd.object_type == "Normal"
    assert hd.etag == h.md5_hex_upper(data)


def test_v2_uploader_upload_file(v2, bucket_name, tmp_path):
    data = h.rand_bytes(350 * h.KB + 1)
    f = tmp_path / "up.bin"
    f.write_bytes(data)
    up = v2.uploader(part_size=PART, parallel_num=2)
    r = up.upload_file(oss.PutObjectRequest(bucket=bucket_name, key="uploader/file.bin"), str(f))
    assert r.status_code == 200
    assert r.upload_id
    assert h.MULTIPART_ETAG_RE.match(r.etag).group(1) == "4"
    assert r.hash_crc64 == str(h.crc64(data))
    g = v2.get_object(oss.GetObjectRequest(bucket=bucket_name, key="uploader/file.bin"))
    assert g.body.read() == data
    assert g.object_type == "Multipart"


def test_v2_uploader_upload_from_stream(v2, bucket_name):
    data = h.rand_bytes(250 * h.KB)
    up = v2.uploader(part_size=PART)
    r = up.upload_from(oss.PutObjectRequest(bucket=bucket_name, key="uploader/stream.bin"),
                       io.BytesIO(data))
    assert r.status_code == 200
    g = v2.get_object(oss.GetObjectRequest(bucket=bucket_name, key="uploader/stream.bin"))
    assert g.body.read() == data

    small = b"tiny"
    r = up.upload_from(oss.PutObjectRequest(bucket=bucket_name, key="uploader/tiny"),
                       io.BytesIO(small))
    assert r.etag == h.quoted_etag(small)  # below part size: a single PutObject
