'use strict';
/**
 * Errors as ali-oss surfaces them (err.code, err.status, err.requestId, err.message), conditional
 * requests, credentials, and APIs Coffer does not implement.
 */
const assert = require('node:assert/strict');
const h = require('./harness');

h.matrix('NoSuchKey and NoSuchBucket, with request id and message', async (t, f) => {
  const { c } = await h.newBucket(f);
  const err = await h.ossError(c.get('missing.txt'), 404, 'NoSuchKey');
  assert.equal(err.name, 'NoSuchKeyError');
  assert.equal(err.message, 'The specified key does not exist.');
  assert.match(err.requestId, /^[0-9A-F]{24}$/);
  assert.match(err.ecCode, /^\d{4}-\d{8}$/);
  await h.ossError(c.head('missing.txt'), 404, 'NoSuchKey');
  await h.ossError(c.getObjectMeta('missing.txt'), 404, 'NoSuchKey');

  const gone = await h.client(f, { bucket: h.uniqueName('absent') });
  const nb = await h.ossError(gone.get('x.txt'), 404, 'NoSuchBucket');
  assert.equal(nb.message, 'The specified bucket does not exist.');
  await h.ossError(gone.put('x.txt', Buffer.from('x')), 404, 'NoSuchBucket');
  await h.ossError(gone.list({}), 404, 'NoSuchBucket');
  await h.ossError(gone.getBucketInfo(gone.getBucket()), 404, 'NoSuchBucket');
  await h.ossError(gone.deleteBucket(gone.getBucket()), 404, 'NoSuchBucket');
});

h.matrix('If-Match / If-Unmodified-Since failures are 412 PreconditionFailed with a Condition', async (t, f) => {
  const { c } = await h.newBucket(f);
  const put = await c.put('cond.txt', Buffer.from('conditional'));
  const etag = put.res.headers.etag;

  const ifMatch = await h.ossError(c.get('cond.txt', { headers: { 'If-Match': '"0123456789ABCDEF0123456789ABCDEF"' } }),
    412, 'PreconditionFailed');
  assert.match(ifMatch.message, /\(condition: If-Match\)$/);

  const past = new Date(Date.now() - 3600 * 1000).toUTCString();
  const unmodified = await h.ossError(c.get('cond.txt', { headers: { 'If-Unmodified-Since': past } }),
    412, 'PreconditionFailed');
  assert.match(unmodified.message, /\(condition: If-Unmodified-Since\)$/);

  await h.ossError(c.head('cond.txt', { headers: { 'If-Match': '"nope"' } }), 412, 'PreconditionFailed');

  const ok = await c.get('cond.txt', { headers: { 'If-Match': etag } });
  assert.equal(ok.content.toString(), 'conditional');
  const notModified = await c.get('cond.txt', { headers: { 'If-None-Match': etag } });
  assert.equal(notModified.res.status, 304);
  const future = new Date(Date.now() + 3600 * 1000).toUTCString();
  assert.equal((await c.head('cond.txt', { headers: { 'If-Modified-Since': future } })).status, 304);
});

h.matrix('credentials: unknown AccessKeyId, wrong secret', async (t, f) => {
  const { name } = await h.newBucket(f);
  const stranger = await h.client(f, { accessKeyId: 'NoSuchAccessKeyId0001', accessKeySecret: 'whatever', bucket: name });
  const bad = await h.ossError(stranger.get('x.txt'), 403, 'InvalidAccessKeyId');
  assert.equal(bad.message, 'The OSS Access Key Id you provided does not exist in our records.');
  await h.ossError(stranger.listBuckets(), 403, 'InvalidAccessKeyId');

  const wrongSecret = await h.client(f, { accessKeySecret: 'not-the-secret', bucket: name });
  await h.ossError(wrongSecret.list({}), 403, 'SignatureDoesNotMatch');
});

h.matrix('an unknown AccessKeyId against a bucket that does not exist gets 404 NoSuchBucket', async (t, f) => {
  const stranger = await h.client(f, { accessKeyId: 'NoSuchAccessKeyId0001', accessKeySecret: 'whatever' });
  const absent = h.uniqueName('absent');
  await h.ossError(stranger.getBucketInfo(absent), 404, 'NoSuchBucket');
  stranger.useBucket(absent);
  await h.ossError(stranger.get('x.txt'), 404, 'NoSuchBucket');
});

h.matrix('an object put into an IA bucket without a storage class is IA', async (t, f) => {
  const { c } = await h.newBucket(f, { storageClass: 'IA' });
  await c.put('ia.txt', Buffer.from('infrequent'));
  assert.equal((await c.head('ia.txt')).res.headers['x-oss-storage-class'], 'IA');
  const listed = await c.list({});
  assert.equal(listed.objects[0].storageClass, 'IA');
  await c.put('std.txt', Buffer.from('standard'), { headers: { 'x-oss-storage-class': 'Standard' } });
  assert.equal((await c.head('std.txt')).res.headers['x-oss-storage-class'], 'Standard', 'an explicit class wins');
});

// APIs Coffer lacks: each must be refused with 400 NotImplemented and change nothing.

async function objectIntact(c, key, body) {
  const got = await c.get(key);
  assert.equal(got.content.toString(), body, `${key} content unchanged`);
  assert.equal(got.res.headers['x-oss-object-type'], 'Normal');
}

async function bucketIntact(c, name) {
  const info = (await c.getBucketInfo(name)).bucket;
  assert.equal(info.Name, name);
  assert.equal(info.StorageClass, 'Standard');
  assert.equal(info.AccessControlList.Grant, 'private');
  await objectIntact(c, 'keep.txt', 'keep');
}

const NOT_IMPLEMENTED = [
  ['putBucketTags', (c, name) => c.putBucketTags(name, { team: 'a' }), bucketIntact],
  ['putBucketLifecycle', (c, name) => c.putBucketLifecycle(name, [{ id: 'r1', prefix: 'logs/', status: 'Enabled', days: 1 }]),
    bucketIntact],
  ['putBucketVersioning', (c, name) => c.putBucketVersioning(name, 'Enabled'), bucketIntact],
  ['putObjectTagging', c => c.putObjectTagging('keep.txt', { team: 'a' }), c => objectIntact(c, 'keep.txt', 'keep')],
  ['putSymlink', c => c.putSymlink('link.txt', 'keep.txt'), async c => {
    await objectIntact(c, 'keep.txt', 'keep');
    await h.ossError(c.head('link.txt'), 404, 'NoSuchKey');
  }],
  ['restore', c => c.restore('keep.txt'), c => objectIntact(c, 'keep.txt', 'keep')],
  ['putBucketCORS', (c, name) => c.putBucketCORS(name, [{ allowedOrigin: '*', allowedMethod: 'GET' }]), bucketIntact],
  ['putBucketWebsite', (c, name) => c.putBucketWebsite(name, { index: 'index.html' }), bucketIntact],
  ['putBucketReferer', (c, name) => c.putBucketReferer(name, false, ['https://example.com']), bucketIntact],
  ['putBucketLogging', (c, name) => c.putBucketLogging(name, 'logs/'), bucketIntact],
  ['getSymlink', c => c.getSymlink('keep.txt'), c => objectIntact(c, 'keep.txt', 'keep')],
  ['deleteObjectTagging', c => c.deleteObjectTagging('keep.txt'), c => objectIntact(c, 'keep.txt', 'keep')]
];

/**
 * Expects 400 NotImplemented. Most ali-oss calls throw it; a few (putBucketVersioning) name no
 * success status and return the error response instead.
 */
async function notImplemented(promise) {
  let res;
  try {
    res = await promise;
  } catch (err) {
    assert.equal(err.code, 'NotImplemented', `${err.name}: ${err.message}`);
    assert.equal(err.status, 400);
    return;
  }
  assert.equal(res.res.status, 400, `expected 400 NotImplemented, got ${res.res.status}`);
  assert.match(String(res.res.data), /<Code>NotImplemented<\/Code>/);
}

for (const [api, call, check] of NOT_IMPLEMENTED) {
  h.matrix(`${api} is answered 400 NotImplemented and changes nothing`, async (t, f) => {
    const { c, name } = await h.newBucket(f);
    await c.put('keep.txt', Buffer.from('keep'));
    await notImplemented(call(c, name));
    await check(c, name);
    assert.deepEqual((await c.list({})).objects.map(o => o.name), ['keep.txt']);
  });
}
