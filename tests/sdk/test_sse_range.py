"""Range reads of encrypted objects (reference §5.5, §2.3 GetObject): Coffer seals plaintext
in 64 KiB packages, so ranges that start, end or cross package boundaries -- and, for
multipart and appendable objects, part / append boundaries -- must return exactly the
plaintext slice, for every method."""
import oss2
import pytest
import alibabacloud_oss_v2 as oss

import sdkhelpers as h

P = h.SSE_PACKAGE
SIZE = 300 * h.KB + 123  # 4 full packages and a partial fifth


def _ranges(n, boundaries=()):
    """(Range header, start, end-inclusive) triples for an object of n bytes."""
    out = [
        ("bytes=0-0", 0, 0),
        ("bytes=%d-%d" % (P - 6, P + 9), P - 6, P + 9),          # 65530-65545
        ("bytes=%d-%d" % (P - 1, P), P - 1, P),                  # last of one, first of next
        ("bytes=%d-%d" % (P, P), P, P),
        ("bytes=0-%d" % (P - 1), 0, P - 1),                      # exactly one package
        ("bytes=%d-%d" % (2 * P, 3 * P - 1), 2 * P, 3 * P - 1),  # 131072-196607
        ("bytes=%d-%d" % (P + 1, 3 * P + 1), P + 1, 3 * P + 1),  # spans three packages
        ("bytes=%d-%d" % (n - 1, n - 1), n - 1, n - 1),          # last byte
        ("bytes=-70000", n - 70000, n - 1),                      # suffix over a boundary
        ("bytes=-1", n - 1, n - 1),
        ("bytes=%d-" % (n - P - 10), n - P - 10, n - 1),         # open-ended
        ("bytes=0-%d" % (n - 1), 0, n - 1),
    ]
    for b in boundaries:
        out += [
            ("bytes=%d-%d" % (b - 5, b + 5), b - 5, b + 5),
            ("bytes=%d-%d" % (b - 1, b - 1), b - 1, b - 1),
            ("bytes=%d-%d" % (b, b), b, b),
        ]
        lo, hi = max(0, b - P), min(n - 1, b + P)
        out.append(("bytes=%d-%d" % (lo, hi), lo, hi))
    return [r for r in out if 0 <= r[1] <= r[2] < n]


def _check_ranges(bucket, key, data, method, boundaries=()):
    n = len(data)
    whole_crc = str(h.crc64(data))
    for rng, start, end in _ranges(n, boundaries):
        g = bucket.get_object(key, headers={"Range": rng})
        body = g.read()
        assert g.status == 206, rng
        assert body == data[start:end + 1], "%s (%s): %d bytes, first mismatch at %s" % (
            rng, method, len(body),
            next((i for i, (a, b) in enumerate(zip(body, data[start:end + 1])) if a != b), "-"))
        assert g.headers["Content-Range"] == "bytes %d-%d/%d" % (start, end, n), rng
        assert g.content_length == end - start + 1, rng
        h.assert_sse(g.headers, method, what="range " + rng)
        # §5.5: the CRC on a range GET is that of the whole object
        crc = g.headers.get("x-oss-hash-crc64ecma")
        assert crc is None or crc == whole_crc, rng


@pytest.mark.parametrize("method", h.SSE_METHODS)
def test_range_single_put(o2, method):
    data = h.rand_bytes(SIZE)
    o2.put_object("r", data, headers=h.sse_headers(method))
    _check_ranges(o2, "r", data, method)


@pytest.mark.parametrize("method", h.SSE_METHODS)
def test_range_across_read_batches(o2, method):
    # Coffer reads sealed segments 16 packages (1 MiB of plaintext) at a time
    data = h.rand_bytes(40 * P + 5)
    o2.put_object("big", data, headers=h.sse_headers(method))
    _check_ranges(o2, "big", data, method, boundaries=(16 * P, 32 * P))


@pytest.mark.parametrize("method", h.SSE_METHODS)
def test_range_multipart(o2_admin, method):
    # parts not aligned to packages: boundaries at 102407 and 204821
    chunks = [h.rand_bytes(100 * h.KB + 7), h.rand_bytes(100 * h.KB + 14),
              h.rand_bytes(60 * h.KB + 1)]
    data = b"".join(chunks)
    init = o2_admin.init_multipart_upload("m", headers=h.sse_headers(method))
    parts = []
    for i, c in enumerate(chunks, 1):
        r = o2_admin.upload_part("m", init.upload_id, i, c)
        parts.append(oss2.models.PartInfo(i, r.etag))
    o2_admin.complete_multipart_upload("m", init.upload_id, parts)
    b1 = len(chunks[0])
    b2 = b1 + len(chunks[1])
    _check_ranges(o2_admin, "m", data, method, boundaries=(b1, b2))
    # a range covering the tail of part 1, all of part 2 and the head of part 3
    g = o2_admin.get_object("m", headers={"Range": "bytes=%d-%d" % (b1 - 100, b2 + 100)})
    assert g.read() == data[b1 - 100:b2 + 101]


@pytest.mark.parametrize("method", h.SSE_METHODS)
def test_range_appendable(o2_admin, method):
    pieces = [h.rand_bytes(70000), b"x", h.rand_bytes(P - 1), h.rand_bytes(100000)]
    pos = 0
    boundaries = []
    for i, piece in enumerate(pieces):
        r = o2_admin.append_object("a", pos, piece,
                                   headers=h.sse_headers(method) if i == 0 else None)
        pos = r.next_position
        boundaries.append(pos)
    data = b"".join(pieces)
    _check_ranges(o2_admin, "a", data, method, boundaries=boundaries[:-1])


@pytest.mark.parametrize("method", ["SM4", "KMS"])
def test_range_behavior_standard_on_encrypted(o2_admin, method):
    data = h.rand_bytes(2 * P + 10)
    n = len(data)
    o2_admin.put_object("s", data, headers=h.sse_headers(method))
    std = {"x-oss-range-behavior": "standard"}
    # end past EOF is clamped
    g = o2_admin.get_object("s", headers=dict(std, Range="bytes=%d-%d" % (P + 5, n + 1000)))
    assert g.status == 206
    assert g.read() == data[P + 5:]
    assert g.headers["Content-Range"] == "bytes %d-%d/%d" % (P + 5, n - 1, n)
    # start at EOF -> 416
    with pytest.raises(oss2.exceptions.ServerError) as ei:
        o2_admin.get_object("s", headers=dict(std, Range="bytes=%d-%d" % (n, n + 10)))
    assert ei.value.status == 416
    # legacy behaviour: an invalid range returns the whole object with 200
    g = o2_admin.get_object("s", headers={"Range": "bytes=%d-%d" % (n, n + 10)})
    assert g.status == 200
    assert g.read() == data


def test_v2_range_reads(server, bucket_name):
    v2 = h.v2_client(server, "v4")
    data = h.rand_bytes(SIZE)
    v2.put_object(oss.PutObjectRequest(bucket=bucket_name, key="r", body=data,
                                       **h.sse_v2_kwargs("KMS+SM4")))
    for rng, start, end in _ranges(len(data)):
        g = v2.get_object(oss.GetObjectRequest(bucket=bucket_name, key="r", range_header=rng))
        assert g.body.read() == data[start:end + 1], rng
        assert g.content_range == "bytes %d-%d/%d" % (start, end, len(data))
        h.assert_sse_v2(g, "KMS+SM4")


@pytest.mark.parametrize("method", ["AES256", "KMS+SM4"])
def test_v2_downloader_on_encrypted(server, bucket_name, tmp_path, method):
    # parallel range GETs with a part size that is not a multiple of the package size;
    # the downloader verifies the whole-object CRC-64.
    v2 = h.v2_client(server, "v4", retry_max_attempts=2)
    data = h.rand_bytes(700 * h.KB + 123)
    v2.put_object(oss.PutObjectRequest(bucket=bucket_name, key="dl", body=data,
                                       **h.sse_v2_kwargs(method)))
    out = tmp_path / "dl.bin"
    d = v2.downloader(part_size=100 * h.KB + 1, parallel_num=3)
    r = d.download_file(oss.GetObjectRequest(bucket=bucket_name, key="dl"), str(out))
    assert r.written == len(data)
    assert out.read_bytes() == data


def test_oss2_resumable_download_encrypted_multipart(o2_admin, tmp_path):
    chunks = [h.rand_bytes(100 * h.KB + 7), h.rand_bytes(100 * h.KB + 7), h.rand_bytes(99)]
    data = b"".join(chunks)
    init = o2_admin.init_multipart_upload("m", headers=h.sse_headers("SM4"))
    parts = []
    for i, c in enumerate(chunks, 1):
        r = o2_admin.upload_part("m", init.upload_id, i, c)
        parts.append(oss2.models.PartInfo(i, r.etag))
    o2_admin.complete_multipart_upload("m", init.upload_id, parts)
    out = tmp_path / "m.bin"
    oss2.resumable_download(o2_admin, "m", str(out), multiget_threshold=50 * h.KB,
                            part_size=70 * h.KB, num_threads=3,
                            store=oss2.ResumableDownloadStore(root=str(tmp_path)))
    assert out.read_bytes() == data
