'use strict';
/** Multipart uploads through ali-oss: the managed multipartUpload and the low-level calls. */
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const h = require('./harness');

const PART = 100 * h.KB; // the smallest part OSS accepts (except the last one)

h.matrix('multipartUpload (managed) of a Buffer in three parts, with progress', async (t, f) => {
  const { c } = await h.newBucket(f);
  const body = crypto.randomBytes(2 * PART + 1234);
  const progress = [];
  const res = await c.multipartUpload('big.bin', body, {
    partSize: PART,
    parallel: 2,
    meta: { origin: 'node' },
    progress: p => { progress.push(p); }
  });
  assert.equal(res.res.status, 200);
  assert.match(res.etag, /^"[0-9A-F]{32}-3"$/);
  assert.equal(progress.at(-1), 1);

  const got = await c.get('big.bin');
  assert.ok(Buffer.compare(got.content, body) === 0, 'content round trip');
  assert.equal(got.res.headers['x-oss-object-type'], 'Multipart');
  assert.equal(got.res.headers['x-oss-meta-origin'], 'node');
  assert.equal(got.res.headers.etag, res.etag);
});

h.matrix('multipartUpload of a small Buffer falls back to a single put', async (t, f) => {
  const { c } = await h.newBucket(f);
  const body = Buffer.from('small');
  const res = await c.multipartUpload('small.txt', body);
  assert.equal(res.etag, h.md5Etag(body));
  assert.equal((await c.get('small.txt')).content.toString(), 'small');
});

h.matrix('initMultipartUpload, uploadPart, listParts, listUploads, completeMultipartUpload', async (t, f) => {
  const { c, name } = await h.newBucket(f);
  const body = crypto.randomBytes(PART + 500);
  const init = await c.initMultipartUpload('low/level.bin', { mime: 'application/x-parts' });
  assert.equal(init.bucket, name);
  assert.equal(init.name, 'low/level.bin');
  assert.match(init.uploadId, /\S/);

  const p1 = await c.uploadPart('low/level.bin', init.uploadId, 1, body, 0, PART);
  const p2 = await c.uploadPart('low/level.bin', init.uploadId, 2, body, PART, body.length);
  assert.equal(p1.etag, h.md5Etag(body.subarray(0, PART)));
  assert.equal(p2.etag, h.md5Etag(body.subarray(PART)));

  const parts = await c.listParts('low/level.bin', init.uploadId);
  assert.equal(parts.uploadId, init.uploadId);
  assert.equal(parts.isTruncated, 'false');
  assert.deepEqual(parts.parts.map(p => [p.PartNumber, p.ETag, p.Size]),
    [['1', p1.etag, String(PART)], ['2', p2.etag, String(body.length - PART)]]);

  const paged = await c.listParts('low/level.bin', init.uploadId, { 'max-parts': 1 });
  assert.equal(paged.isTruncated, 'true');
  assert.equal(paged.nextPartNumberMarker, '1');
  assert.equal(paged.parts.PartNumber, '1', 'xml2js gives a lone part as an object');

  const uploads = await c.listUploads({ prefix: 'low/' });
  assert.deepEqual(uploads.uploads.map(u => [u.name, u.uploadId]), [['low/level.bin', init.uploadId]]);

  const done = await c.completeMultipartUpload('low/level.bin', init.uploadId,
    [{ number: 2, etag: p2.etag }, { number: 1, etag: p1.etag }]);
  assert.equal(done.res.status, 200);
  assert.match(done.etag, /^"[0-9A-F]{32}-2"$/);

  const got = await c.get('low/level.bin');
  assert.equal(got.res.headers.etag, done.etag);
  assert.ok(Buffer.compare(got.content, body) === 0, 'content round trip');
  assert.equal(got.res.headers['content-type'], 'application/x-parts');
  assert.deepEqual((await c.listUploads({ prefix: 'low/' })).uploads, []);
});

h.matrix('UploadPart answers Content-MD5 of the part', async (t, f) => {
  const { c } = await h.newBucket(f);
  const part = crypto.randomBytes(10 * h.KB);
  const init = await c.initMultipartUpload('md5.bin');
  const up = await c.uploadPart('md5.bin', init.uploadId, 1, part, 0, part.length);
  assert.equal(up.res.headers['content-md5'], h.md5Base64(part));
  await c.abortMultipartUpload('md5.bin', init.uploadId);
});

h.matrix('abortMultipartUpload removes the upload; its id is then NoSuchUpload', async (t, f) => {
  const { c } = await h.newBucket(f);
  const init = await c.initMultipartUpload('gone.bin');
  await c.uploadPart('gone.bin', init.uploadId, 1, Buffer.from('part'), 0, 4);
  const abort = await c.abortMultipartUpload('gone.bin', init.uploadId);
  assert.equal(abort.res.status, 204);
  assert.deepEqual((await c.listUploads({})).uploads, []);
  await h.ossError(c.listParts('gone.bin', init.uploadId), 404, 'NoSuchUpload');
  await h.ossError(c.abortMultipartUpload('gone.bin', init.uploadId), 404, 'NoSuchUpload');
  await h.ossError(c.head('gone.bin'), 404, 'NoSuchKey');
});

h.matrix('completeMultipartUpload refuses a too-small part and a wrong ETag', async (t, f) => {
  const { c } = await h.newBucket(f);
  const init = await c.initMultipartUpload('bad.bin');
  const p1 = await c.uploadPart('bad.bin', init.uploadId, 1, Buffer.from('tiny'), 0, 4);
  const p2 = await c.uploadPart('bad.bin', init.uploadId, 2, Buffer.from('tail'), 0, 4);
  await h.ossError(c.completeMultipartUpload('bad.bin', init.uploadId,
    [{ number: 1, etag: p1.etag }, { number: 2, etag: p2.etag }]), 400, 'EntityTooSmall');
  await h.ossError(c.completeMultipartUpload('bad.bin', init.uploadId,
    [{ number: 1, etag: '"0123456789ABCDEF0123456789ABCDEF"' }]), 400, 'InvalidPart');
  await c.abortMultipartUpload('bad.bin', init.uploadId);
});

h.matrix('completeMultipartUpload honours x-oss-object-acl', async (t, f) => {
  const { c } = await h.newBucket(f);
  const init = await c.initMultipartUpload('acl.bin');
  const p1 = await c.uploadPart('acl.bin', init.uploadId, 1, Buffer.from('public'), 0, 6);
  await c.completeMultipartUpload('acl.bin', init.uploadId, [{ number: 1, etag: p1.etag }],
    { headers: { 'x-oss-object-acl': 'public-read' } });
  assert.equal((await c.getACL('acl.bin')).acl, 'public-read');
});

h.matrix('uploadPartCopy and multipartUploadCopy from another object', async (t, f) => {
  const { c, name } = await h.newBucket(f);
  const src = crypto.randomBytes(2 * PART + 10);
  await c.put('src.bin', src);

  const init = await c.initMultipartUpload('copy.bin');
  const part = await c.uploadPartCopy('copy.bin', init.uploadId, 1, `0-${PART - 1}`,
    { sourceKey: 'src.bin', sourceBucketName: name });
  const tail = await c.uploadPartCopy('copy.bin', init.uploadId, 2, `${PART}-${src.length - 1}`,
    { sourceKey: 'src.bin', sourceBucketName: name });
  await c.completeMultipartUpload('copy.bin', init.uploadId,
    [{ number: 1, etag: part.etag }, { number: 2, etag: tail.etag }]);
  assert.ok(Buffer.compare((await c.get('copy.bin')).content, src) === 0, 'uploadPartCopy result');

  const managed = await c.multipartUploadCopy('copy2.bin', { sourceKey: 'src.bin', sourceBucketName: name },
    { partSize: PART });
  assert.equal(managed.res.status, 200);
  assert.ok(Buffer.compare((await c.get('copy2.bin')).content, src) === 0, 'multipartUploadCopy result');
});

/** The CommonPrefixes of a ListMultipartUploads answer (ali-oss's listUploads leaves them out of its result). */
function uploadPrefixes(res) {
  return [...String(res.res.data).matchAll(/<CommonPrefixes>\s*<Prefix>([^<]*)<\/Prefix>/g)].map(m => m[1]);
}

h.matrix('listUploads with a delimiter pages with max-uploads=1, each common prefix once', async (t, f) => {
  const { c } = await h.newBucket(f);
  const keys = ['a.bin', 'dir/1.bin', 'dir/2.bin', 'dir/sub/3.bin', 'other/4.bin', 'z.bin'];
  for (const k of keys) await c.initMultipartUpload(k);
  await c.initMultipartUpload('dir/1.bin'); // two uploads of one key under the same prefix

  const all = await c.listUploads({ delimiter: '/' });
  assert.deepEqual(all.uploads.map(u => u.name), ['a.bin', 'z.bin']);
  assert.deepEqual(uploadPrefixes(all), ['dir/', 'other/']);

  const names = [];
  const prefixes = [];
  const query = { delimiter: '/', 'max-uploads': 1 };
  let pages = 0;
  for (;;) {
    const page = await c.listUploads(query);
    const found = page.uploads.map(u => u.name).concat(uploadPrefixes(page));
    assert.equal(found.length, 1, `page ${pages + 1} holds one entry: ${found}`);
    names.push(...page.uploads.map(u => u.name));
    prefixes.push(...uploadPrefixes(page));
    assert.ok(++pages <= 4, 'paging must end');
    if (!page.isTruncated) break;
    // Send only the markers the page gave: ali-oss's V4 signer leaves empty values out.
    query['key-marker'] = page.nextKeyMarker;
    if (page.nextUploadIdMarker) query['upload-id-marker'] = page.nextUploadIdMarker;
    else delete query['upload-id-marker'];
  }
  assert.deepEqual(names, ['a.bin', 'z.bin']);
  assert.deepEqual(prefixes, ['dir/', 'other/'], 'no prefix is repeated on a later page');
  assert.equal(pages, 4);

  const inDir = await c.listUploads({ prefix: 'dir/', delimiter: '/' });
  assert.deepEqual(inDir.uploads.map(u => u.name), ['dir/1.bin', 'dir/1.bin', 'dir/2.bin']);
  assert.deepEqual(uploadPrefixes(inDir), ['dir/sub/']);
});

h.matrix('listParts reports the client-side-encryption settings given at initiation', async (t, f) => {
  // ali-oss has no encryption client; what one stores at initiation is plain user metadata,
  // which OSS hands back in ListParts so that an upload can be resumed with the same key.
  const { c } = await h.newBucket(f);
  const cse = {
    'x-oss-meta-client-side-encryption-key': crypto.randomBytes(32).toString('base64'),
    'x-oss-meta-client-side-encryption-start': crypto.randomBytes(16).toString('base64'),
    'x-oss-meta-client-side-encryption-cek-alg': 'AES/CTR/NoPadding',
    'x-oss-meta-client-side-encryption-wrap-alg': 'RSA/NONE/PKCS1Padding',
    'x-oss-meta-client-side-encryption-data-size': String(2 * PART),
    'x-oss-meta-client-side-encryption-part-size': String(PART)
  };
  const init = await c.initMultipartUpload('cse.bin', { headers: cse });
  await c.uploadPart('cse.bin', init.uploadId, 1, crypto.randomBytes(PART), 0, PART);
  const listed = await c.listParts('cse.bin', init.uploadId);
  const xml = String(listed.res.data);
  // (ali-oss gives a lone part as an object rather than a list, so read the document.)
  assert.deepEqual([...xml.matchAll(/<PartNumber>(\d+)<\/PartNumber>/g)].map(m => m[1]), ['1']);
  const element = name => (xml.match(new RegExp(`<${name}>([^<]*)</${name}>`)) || [])[1];
  assert.equal(element('ClientEncryptionKey'), cse['x-oss-meta-client-side-encryption-key']);
  assert.equal(element('ClientEncryptionStart'), cse['x-oss-meta-client-side-encryption-start']);
  assert.equal(element('ClientEncryptionCekAlg'), 'AES/CTR/NoPadding');
  assert.equal(element('ClientEncryptionWrapAlg'), 'RSA/NONE/PKCS1Padding');
  assert.equal(element('ClientEncryptionDataSize'), String(2 * PART));
  assert.equal(element('ClientEncryptionPartSize'), String(PART));
  // An upload started without them lists none.
  const plain = await c.initMultipartUpload('plain.bin');
  const none = String((await c.listParts('plain.bin', plain.uploadId)).res.data);
  assert.doesNotMatch(none, /ClientEncryption/);
  await c.abortMultipartUpload('cse.bin', init.uploadId);
  await c.abortMultipartUpload('plain.bin', plain.uploadId);
});
