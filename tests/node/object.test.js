'use strict';
/** Object operations through ali-oss: put/get/head/delete, metadata, range, append, copy, ACL. */
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { Readable } = require('node:stream');
const h = require('./harness');

h.matrix('put, get, head, getObjectMeta and delete an object', async (t, f) => {
  const { c } = await h.newBucket(f);
  const body = crypto.randomBytes(3 * h.KB + 7);
  const key = 'dir/sub dir/ünï+cøde?.bin';

  const put = await c.put(key, body, { meta: { colour: 'blue' }, mime: 'application/x-test' });
  assert.equal(put.name, key);
  assert.equal(put.res.status, 200);
  assert.equal(put.res.headers.etag, h.md5Etag(body));
  assert.equal(put.res.headers['content-md5'], h.md5Base64(body));
  assert.match(put.res.headers['x-oss-hash-crc64ecma'], /^\d+$/);
  assert.match(put.res.headers['x-oss-request-id'], /^[0-9A-F]{24}$/);

  const got = await c.get(key);
  assert.ok(Buffer.compare(got.content, body) === 0, 'content round trip');
  assert.equal(got.res.headers['content-type'], 'application/x-test');
  assert.equal(got.res.headers['x-oss-meta-colour'], 'blue');
  assert.equal(got.res.headers['x-oss-object-type'], 'Normal');
  assert.equal(got.res.headers['x-oss-hash-crc64ecma'], put.res.headers['x-oss-hash-crc64ecma']);

  const head = await c.head(key);
  assert.equal(head.status, 200);
  assert.deepEqual(head.meta, { colour: 'blue' });
  assert.equal(head.res.headers['content-length'], String(body.length));
  assert.equal(head.res.headers.etag, h.md5Etag(body));
  assert.equal(head.res.headers['x-oss-storage-class'], 'Standard');

  const meta = await c.getObjectMeta(key);
  assert.equal(meta.status, 200);
  assert.equal(meta.res.headers['content-length'], String(body.length));
  assert.equal(meta.res.headers.etag, h.md5Etag(body));

  const del = await c.delete(key);
  assert.equal(del.res.status, 204);
  await h.ossError(c.get(key), 404, 'NoSuchKey');
  await h.ossError(c.head(key), 404, 'NoSuchKey');
  const again = await c.delete(key);
  assert.equal(again.res.status, 204, 'DeleteObject of a missing key is 204');
});

h.matrix('put takes its Content-Type from the key\'s extension; headers and streams', async (t, f) => {
  const { c } = await h.newBucket(f);
  await c.put('page.html', Buffer.from('<p>hi</p>'), {
    headers: { 'Cache-Control': 'no-cache', 'Content-Disposition': 'attachment; filename="p.html"' }
  });
  const head = await c.head('page.html');
  assert.equal(head.res.headers['content-type'], 'text/html');
  assert.equal(head.res.headers['cache-control'], 'no-cache');
  assert.equal(head.res.headers['content-disposition'], 'attachment; filename="p.html"');

  // putStream without a length goes chunked.
  const parts = [Buffer.from('chunk-one,'), Buffer.from('chunk-two')];
  await c.putStream('streamed.txt', Readable.from(parts));
  const got = await c.get('streamed.txt');
  assert.equal(got.content.toString(), 'chunk-one,chunk-two');

  const stream = await c.getStream('streamed.txt');
  const chunks = [];
  for await (const chunk of stream.stream) chunks.push(chunk);
  assert.equal(Buffer.concat(chunks).toString(), 'chunk-one,chunk-two');
});

h.matrix('range get: 206 with Content-Range; an invalid range returns the whole object', async (t, f) => {
  const { c } = await h.newBucket(f);
  const body = Buffer.from('0123456789abcdefghij');
  await c.put('range.txt', body);

  const mid = await c.get('range.txt', { headers: { Range: 'bytes=5-9' } });
  assert.equal(mid.res.status, 206);
  assert.equal(mid.content.toString(), '56789');
  assert.equal(mid.res.headers['content-range'], 'bytes 5-9/20');

  const tail = await c.get('range.txt', { headers: { Range: 'bytes=-4' } });
  assert.equal(tail.res.status, 206);
  assert.equal(tail.content.toString(), 'ghij');

  const open = await c.get('range.txt', { headers: { Range: 'bytes=15-' } });
  assert.equal(open.content.toString(), 'fghij');

  const invalid = await c.get('range.txt', { headers: { Range: 'bytes=50-60' } });
  assert.equal(invalid.res.status, 200);
  assert.equal(invalid.content.toString(), body.toString());
  assert.equal(invalid.res.headers['content-range'], undefined);
});

h.matrix('append: positions, nextAppendPosition, PositionNotEqualToLength, ObjectNotAppendable', async (t, f) => {
  const { c } = await h.newBucket(f);
  const first = await c.append('log.txt', Buffer.from('hello '));
  assert.equal(first.nextAppendPosition, '6');
  const second = await c.append('log.txt', Buffer.from('world'), { position: first.nextAppendPosition });
  assert.equal(second.nextAppendPosition, '11');

  const got = await c.get('log.txt');
  assert.equal(got.content.toString(), 'hello world');
  assert.equal(got.res.headers['x-oss-object-type'], 'Appendable');
  assert.equal(got.res.headers['x-oss-next-append-position'], '11');

  const err = await h.ossError(c.append('log.txt', Buffer.from('!'), { position: 3 }), 409,
    'PositionNotEqualToLength');
  assert.equal(err.params.method, 'POST');
  assert.equal((await c.get('log.txt')).content.toString(), 'hello world', 'unchanged after the refusal');

  await c.put('normal.txt', Buffer.from('normal'));
  await h.ossError(c.append('normal.txt', Buffer.from('x'), { position: 6 }), 409, 'ObjectNotAppendable');
});

h.matrix('copy: same bucket, other bucket, metadata COPY and REPLACE', async (t, f) => {
  const { c, name } = await h.newBucket(f);
  const body = Buffer.from('copy me');
  await c.put('src.txt', body, { meta: { a: '1' }, headers: { 'Content-Type': 'text/x-src' } });

  const same = await c.copy('dst.txt', 'src.txt');
  assert.equal(same.res.status, 200);
  assert.match(same.data.etag, /^"[0-9A-F]{32}"$/);
  const copied = await c.get('dst.txt');
  assert.equal(copied.content.toString(), 'copy me');
  assert.equal(copied.res.headers['x-oss-meta-a'], '1');
  assert.equal(copied.res.headers['content-type'], 'text/x-src');

  const other = await h.newBucket(f);
  await other.c.copy('from-elsewhere.txt', 'src.txt', name);
  assert.equal((await other.c.get('from-elsewhere.txt')).content.toString(), 'copy me');

  // putMeta is a copy onto itself with REPLACE: the new metadata replaces the old.
  await c.putMeta('src.txt', { b: '2' });
  const head = await c.head('src.txt');
  assert.deepEqual(head.meta, { b: '2' });
  assert.equal((await c.get('src.txt')).content.toString(), 'copy me');

  await h.ossError(c.copy('nothing.txt', 'missing.txt'), 404, 'NoSuchKey');
});

h.matrix('copy with REPLACE and no Content-Type keeps the source\'s Content-Type', async (t, f) => {
  const { c } = await h.newBucket(f);
  await c.put('typed', Buffer.from('{}'), { headers: { 'Content-Type': 'application/x-special' }, meta: { old: 'x' } });
  // A key without an extension: ali-oss then sends no Content-Type of its own. `meta` makes it
  // send x-oss-metadata-directive: REPLACE.
  const res = await c.copy('typed-copy', 'typed', { meta: { fresh: 'y' } });
  assert.equal(res.res.status, 200);
  const head = await c.head('typed-copy');
  assert.deepEqual(head.meta, { fresh: 'y' });
  assert.equal(head.res.headers['content-type'], 'application/x-special');
});

h.matrix('putACL / getACL on an object; anonymous read follows it', async (t, f) => {
  const { c, name } = await h.newBucket(f);
  await c.put('acl.txt', Buffer.from('acl'));
  assert.equal((await c.getACL('acl.txt')).acl, 'default');

  const anon = await fetch(await anonymousUrl(name, 'acl.txt'));
  assert.equal(anon.status, 403);

  const put = await c.putACL('acl.txt', 'public-read');
  assert.equal(put.res.status, 200);
  const got = await c.getACL('acl.txt');
  assert.equal(got.acl, 'public-read');
  assert.ok(got.owner.id, 'owner id');

  const res = await fetch(await anonymousUrl(name, 'acl.txt'));
  assert.equal(res.status, 200);
  assert.equal(await res.text(), 'acl');

  await h.ossError(c.putACL('acl.txt', 'public'), 400, 'InvalidArgument');
});

h.matrix('deleteMulti: verbose lists deleted keys, quiet lists none', async (t, f) => {
  const { c } = await h.newBucket(f);
  const keys = ['a.txt', 'b/c.txt', 'd & <e>.txt'];
  for (const k of keys) await c.put(k, Buffer.from(k));

  const verbose = await c.deleteMulti([keys[0], keys[2], 'never-existed']);
  assert.deepEqual(verbose.deleted.map(d => d.Key).sort(), [keys[0], keys[2], 'never-existed'].sort());

  await c.put('q1', Buffer.from('1'));
  const quiet = await c.deleteMulti(['q1', keys[1]], { quiet: true });
  assert.deepEqual(quiet.deleted, []);

  const left = await c.list({});
  assert.deepEqual(left.objects, []);
});

h.matrix('put from a file path and get into a file path', async (t, f) => {
  const { c } = await h.newBucket(f);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-node-files-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const src = path.join(dir, 'upload.json');
  const body = JSON.stringify({ hello: 'world', n: crypto.randomInt(1e9) });
  fs.writeFileSync(src, body);

  const put = await c.put('from-file.json', src);
  assert.equal(put.res.headers.etag, h.md5Etag(Buffer.from(body)));
  const dst = path.join(dir, 'download.json');
  await c.get('from-file.json', dst);
  assert.equal(fs.readFileSync(dst, 'utf8'), body);
  assert.equal((await c.head('from-file.json')).res.headers['content-type'], 'application/json');

  // A failed download leaves no file behind.
  const missing = path.join(dir, 'missing.json');
  await h.ossError(c.get('no-such.json', missing), 404, 'NoSuchKey');
  assert.equal(fs.existsSync(missing), false);
});

h.matrix('copy preconditions: ali-oss sends them as x-oss-copy-source-if-*', async (t, f) => {
  const { c } = await h.newBucket(f);
  const put = await c.put('cond-src.txt', Buffer.from('source'));
  const etag = put.res.headers.etag;
  const ok = await c.copy('cond-dst.txt', 'cond-src.txt', { headers: { 'If-Match': etag } });
  assert.equal(ok.res.status, 200);
  assert.equal((await c.get('cond-dst.txt')).content.toString(), 'source');
  await h.ossError(c.copy('cond-no.txt', 'cond-src.txt', { headers: { 'If-Match': '"0123456789ABCDEF0123456789ABCDEF"' } }),
    412, 'PreconditionFailed');
  const notModified = await c.copy('cond-no.txt', 'cond-src.txt', { headers: { 'If-None-Match': etag } });
  assert.equal(notModified.res.status, 304);
  await h.ossError(c.head('cond-no.txt'), 404, 'NoSuchKey');
});

// Headers Coffer does not act on are refused, never silently ignored, and nothing is written.

const CALLBACK = { url: 'http://127.0.0.1:9/callback', body: 'bucket=${bucket}&object=${object}' };

/** Expects put(key, body, options) to be refused with this status and code, writing nothing. */
async function putRefused(c, options, status, code) {
  await h.ossError(c.put('kept.txt', Buffer.from('replacement'), options), status, code);
  assert.equal((await c.get('kept.txt')).content.toString(), 'original', 'the old object is untouched');
  await h.ossError(c.put('new.txt', Buffer.from('x'), options), status, code);
  await h.ossError(c.head('new.txt'), 404, 'NoSuchKey');
}

h.matrix('put with x-oss-traffic-limit, a callback or x-oss-tagging is 400 NotImplemented', async (t, f) => {
  const { c } = await h.newBucket(f);
  await c.put('kept.txt', Buffer.from('original'));
  await putRefused(c, { headers: { 'x-oss-traffic-limit': '819200' } }, 400, 'NotImplemented');
  await putRefused(c, { callback: CALLBACK }, 400, 'NotImplemented');
  const raw = Buffer.from(JSON.stringify({ callbackUrl: CALLBACK.url, callbackBody: 'x' })).toString('base64');
  await putRefused(c, { headers: { 'x-oss-callback': raw } }, 400, 'NotImplemented');
  await putRefused(c, { headers: { 'x-oss-tagging': 'a=1' } }, 400, 'NotImplemented');
  await putRefused(c, { headers: { 'x-oss-tagging': 'a=1&b=2' } }, 400, 'NotImplemented');
  assert.deepEqual((await c.list({})).objects.map(o => o.name), ['kept.txt']);
});

h.matrix('put with malformed x-oss-tagging is 400 InvalidArgument', async (t, f) => {
  const { c } = await h.newBucket(f);
  await c.put('kept.txt', Buffer.from('original'));
  const eleven = Array.from({ length: 11 }, (_, i) => `k${i}=v`).join('&');
  for (const tags of ['aa=bb=cc', eleven, 'k=v&k=w']) {
    await putRefused(c, { headers: { 'x-oss-tagging': tags } }, 400, 'InvalidArgument');
  }
});

h.matrix('multipartUpload with a callback is refused and writes no object', async (t, f) => {
  const { c } = await h.newBucket(f);
  const big = crypto.randomBytes(100 * h.KB + 1);
  await h.ossError(c.multipartUpload('cb.bin', big, { partSize: 100 * h.KB, callback: CALLBACK }), 400,
    'NotImplemented');
  await h.ossError(c.head('cb.bin'), 404, 'NoSuchKey');
  // The callback rides on CompleteMultipartUpload; its refusal leaves the upload open, as on OSS.
  assert.deepEqual((await c.listUploads({})).uploads.map(u => u.name), ['cb.bin']);
  const small = Buffer.from('small');
  await h.ossError(c.multipartUpload('cb-small.txt', small, { callback: CALLBACK }), 400, 'NotImplemented');
  await h.ossError(c.head('cb-small.txt'), 404, 'NoSuchKey');
  for (const u of (await c.listUploads({})).uploads) await c.abortMultipartUpload(u.name, u.uploadId);
});

h.matrix('get with x-oss-traffic-limit is 400 NotImplemented', async (t, f) => {
  const { c } = await h.newBucket(f);
  await c.put('dl.txt', Buffer.from('data'));
  await h.ossError(c.get('dl.txt', { headers: { 'x-oss-traffic-limit': '819200' } }), 400, 'NotImplemented');
  assert.equal((await c.get('dl.txt')).content.toString(), 'data');
});

// What the SDKs' client-side encryption stores in user metadata; it describes the bytes.
const CSE_META = {
  'client-side-encryption-key': 'd3JhcHBlZCBrZXk=',
  'client-side-encryption-start': 'aXYgc3RhcnQ=',
  'client-side-encryption-cek-alg': 'AES/CTR/NoPadding',
  'client-side-encryption-wrap-alg': 'RSA/NONE/PKCS1Padding',
  'client-side-encryption-unencrypted-content-length': '5'
};

h.matrix('copy with REPLACE keeps the source\'s client-side-encryption metadata, replaces the rest', async (t, f) => {
  const { c } = await h.newBucket(f);
  await c.put('cse-src', Buffer.from('bytes'), { meta: { ...CSE_META, origin: 'src', shared: 'old' } });
  // `meta` makes ali-oss send x-oss-metadata-directive: REPLACE.
  await c.copy('cse-dst', 'cse-src', { meta: { fresh: 'yes', shared: 'new' } });
  const head = await c.head('cse-dst');
  assert.deepEqual(head.meta, { ...CSE_META, fresh: 'yes', shared: 'new' });
  assert.equal((await c.get('cse-dst')).content.toString(), 'bytes');
});

// Objects written into a cold bucket without a class take the bucket's class, however written.
for (const cls of ['Archive', 'ColdArchive']) {
  h.matrix(`put, multipartUpload and copy into a ${cls} bucket make ${cls} objects`, async (t, f) => {
    const { c, name } = await h.newBucket(f, { StorageClass: cls });
    assert.equal((await c.getBucketInfo(name)).bucket.StorageClass, cls);
    const std = await h.newBucket(f);
    await std.c.put('std.txt', Buffer.from('standard'));
    assert.equal((await std.c.head('std.txt')).res.headers['x-oss-storage-class'], 'Standard');

    await c.put('put.txt', Buffer.from('cold'));
    await c.multipartUpload('parts.bin', crypto.randomBytes(100 * h.KB + 10), { partSize: 100 * h.KB });
    await c.copy('copied.txt', 'std.txt', std.name);
    for (const key of ['put.txt', 'parts.bin', 'copied.txt']) {
      assert.equal((await c.head(key)).res.headers['x-oss-storage-class'], cls, key);
    }
    assert.deepEqual((await c.list({})).objects.map(o => [o.name, o.storageClass]),
      [['copied.txt', cls], ['parts.bin', cls], ['put.txt', cls]]);
  });
}

/** A path-style URL for an unsigned request. */
async function anonymousUrl(bucket, key) {
  return `${await h.baseUrl()}/${bucket}/${encodeURIComponent(key)}`;
}
