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

// ali-oss signs V4 with its `region` option less a leading `oss-`; region '' or 'oss-' makes it
// sign with an empty region (Credential=<id>/<date>//oss/aliyun_v4_request). Path style only:
// for an IP endpoint ali-oss also builds the Host header from the region.
h.matrix('a V4 signature with an empty signing region is 400 InvalidArgument', async (t, f) => {
  const { c, name } = await h.newBucket(f);
  await c.put('x.txt', Buffer.from('x'));
  for (const region of ['', 'oss-']) {
    const blank = await h.client(f, { region, bucket: name });
    const err = await h.ossError(blank.get('x.txt'), 400, 'InvalidArgument');
    assert.equal(err.message, 'The signing region in credential is invalid.');
    await h.ossError(blank.put('y.txt', Buffer.from('y')), 400, 'InvalidArgument');
    const v1 = await h.client({ ...f, v4: false }, { region, bucket: name });
    assert.equal((await v1.get('x.txt')).content.toString(), 'x', 'V1 signs no region');
  }
  await h.ossError(c.head('y.txt'), 404, 'NoSuchKey');
}, h.FLAVOURS.filter(f => f.addressing === 'path' && f.v4));

h.matrix('an object put into an IA bucket without a storage class is IA', async (t, f) => {
  const { c } = await h.newBucket(f, { storageClass: 'IA' });
  await c.put('ia.txt', Buffer.from('infrequent'));
  assert.equal((await c.head('ia.txt')).res.headers['x-oss-storage-class'], 'IA');
  const listed = await c.list({});
  assert.equal(listed.objects[0].storageClass, 'IA');
  await c.put('std.txt', Buffer.from('standard'), { headers: { 'x-oss-storage-class': 'Standard' } });
  assert.equal((await c.head('std.txt')).res.headers['x-oss-storage-class'], 'Standard', 'an explicit class wins');
});

// APIs Coffer lacks: each must be refused with 400 NotImplemented and change nothing. Every
// call below is ali-oss's own API method, so the request is exactly what the SDK sends.

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

const keepIntact = c => objectIntact(c, 'keep.txt', 'keep');

/** `key` was not created by the refused call, and keep.txt is as it was. */
function noNewObject(key) {
  return async c => {
    await keepIntact(c);
    await h.ossError(c.head(key), 404, 'NoSuchKey');
  };
}

const INVENTORY = {
  id: 'inv1',
  isEnabled: false,
  prefix: 'logs/',
  OSSBucketDestination: { format: 'CSV', accountId: '1234567890', rolename: 'AliyunOSSRole', bucket: 'elsewhere' },
  frequency: 'Daily',
  includedObjectVersions: 'All'
};

const LIVE_CHANNEL = {
  Description: 'refused',
  Status: 'enabled',
  Target: { Type: 'HLS', FragDuration: '10', FragCount: '5', PlaylistName: 'playlist.m3u8' }
};

// Calls on a bucket holding keep.txt.
const NOT_IMPLEMENTED = [
  ['putBucketTags', (c, name) => c.putBucketTags(name, { team: 'a' }), bucketIntact],
  ['getBucketTags', (c, name) => c.getBucketTags(name), bucketIntact],
  ['putBucketLifecycle', (c, name) => c.putBucketLifecycle(name, [{ id: 'r1', prefix: 'logs/', status: 'Enabled', days: 1 }]),
    bucketIntact],
  ['getBucketLifecycle', (c, name) => c.getBucketLifecycle(name), bucketIntact],
  ['putBucketVersioning', (c, name) => c.putBucketVersioning(name, 'Enabled'), bucketIntact],
  ['getBucketVersioning', (c, name) => c.getBucketVersioning(name), bucketIntact],
  ['getBucketVersions', c => c.getBucketVersions({}), bucketIntact],
  ['listObjectVersions', c => c.listObjectVersions({}), bucketIntact],
  ['putObjectTagging', c => c.putObjectTagging('keep.txt', { team: 'a' }), keepIntact],
  ['getObjectTagging', c => c.getObjectTagging('keep.txt'), keepIntact],
  ['deleteObjectTagging', c => c.deleteObjectTagging('keep.txt'), keepIntact],
  ['putSymlink', c => c.putSymlink('link.txt', 'keep.txt'), noNewObject('link.txt')],
  ['getSymlink', c => c.getSymlink('keep.txt'), keepIntact],
  ['restore', c => c.restore('keep.txt'), keepIntact],
  ['putBucketCORS', (c, name) => c.putBucketCORS(name, [{ allowedOrigin: '*', allowedMethod: 'GET' }]), bucketIntact],
  ['getBucketCORS', (c, name) => c.getBucketCORS(name), bucketIntact],
  ['putBucketWebsite', (c, name) => c.putBucketWebsite(name, { index: 'index.html' }), bucketIntact],
  ['getBucketWebsite', (c, name) => c.getBucketWebsite(name), bucketIntact],
  ['putBucketReferer', (c, name) => c.putBucketReferer(name, false, ['https://example.com']), bucketIntact],
  ['getBucketReferer', (c, name) => c.getBucketReferer(name), bucketIntact],
  ['putBucketLogging', (c, name) => c.putBucketLogging(name, 'logs/'), bucketIntact],
  ['getBucketLogging', (c, name) => c.getBucketLogging(name), bucketIntact],
  ['initiateBucketWorm', (c, name) => c.initiateBucketWorm(name, 1), bucketIntact],
  ['extendBucketWorm', (c, name) => c.extendBucketWorm(name, 'worm-1', 2), bucketIntact],
  ['completeBucketWorm', (c, name) => c.completeBucketWorm(name, 'worm-1'), bucketIntact],
  ['getBucketWorm', (c, name) => c.getBucketWorm(name), bucketIntact],
  ['putBucketInventory', (c, name) => c.putBucketInventory(name, INVENTORY), bucketIntact],
  ['getBucketInventory', (c, name) => c.getBucketInventory(name, 'inv1'), bucketIntact],
  ['listBucketInventory', (c, name) => c.listBucketInventory(name), bucketIntact],
  ['putBucketRequestPayment', (c, name) => c.putBucketRequestPayment(name, 'Requester'), bucketIntact],
  ['getBucketRequestPayment', (c, name) => c.getBucketRequestPayment(name), bucketIntact],
  ['processObjectSave', c => c.processObjectSave('keep.txt', 'saved.txt', 'image/resize,w_10'), noNewObject('saved.txt')],
  ['get with process (x-oss-process)', c => c.get('keep.txt', { process: 'image/resize,w_10' }), keepIntact],
  ['postAsyncFetch', c => c.postAsyncFetch('fetched.txt', 'http://127.0.0.1:9/x'), noNewObject('fetched.txt')],
  ['getAsyncFetch', c => c.getAsyncFetch('task-1'), bucketIntact],
  ['putChannel', c => c.putChannel('ch1', LIVE_CHANNEL), bucketIntact],
  ['getChannel', c => c.getChannel('ch1'), bucketIntact],
  ['listChannels', c => c.listChannels({}), bucketIntact],
  ['getChannelStatus', c => c.getChannelStatus('ch1'), bucketIntact],
  ['putChannelStatus', c => c.putChannelStatus('ch1', 'disabled'), bucketIntact],
  ['getChannelHistory', c => c.getChannelHistory('ch1'), bucketIntact],
  ['createVod', c => c.createVod('ch1', 'vod.m3u8', { startTime: 1, endTime: 2 }), noNewObject('vod.m3u8')]
];

// DELETE-style calls, sent to an EMPTY bucket: a misrouted one would be DeleteBucket and succeed.
const NOT_IMPLEMENTED_ON_EMPTY = [
  ['deleteBucketTags', (c, name) => c.deleteBucketTags(name)],
  ['deleteBucketLifecycle', (c, name) => c.deleteBucketLifecycle(name)],
  ['deleteBucketCORS', (c, name) => c.deleteBucketCORS(name)],
  ['deleteBucketWebsite', (c, name) => c.deleteBucketWebsite(name)],
  ['deleteBucketLogging', (c, name) => c.deleteBucketLogging(name)],
  ['deleteBucketReferer', (c, name) => c.deleteBucketReferer(name)],
  ['deleteBucketInventory', (c, name) => c.deleteBucketInventory(name, 'inv1')],
  ['abortBucketWorm', (c, name) => c.abortBucketWorm(name)],
  ['deleteChannel', c => c.deleteChannel('ch1')]
];

/**
 * Expects an error answer with this status and code. Most ali-oss calls throw it; a few
 * (putBucketVersioning, abortBucketWorm, completeBucketWorm, processObjectSave) name no success
 * status and return the error response instead.
 */
async function refused(promise, status, code) {
  let res;
  try {
    res = await promise;
  } catch (err) {
    assert.equal(err.code, code, `${err.name}: ${err.message}`);
    assert.equal(err.status, status);
    return;
  }
  assert.equal(res.res.status, status, `expected ${status} ${code}, got ${res.res.status}`);
  assert.match(String(res.res.data), new RegExp(`<Code>${code}</Code>`));
}

const notImplemented = promise => refused(promise, 400, 'NotImplemented');

for (const [api, call, check] of NOT_IMPLEMENTED) {
  h.matrix(`${api} is answered 400 NotImplemented and changes nothing`, async (t, f) => {
    const { c, name } = await h.newBucket(f);
    await c.put('keep.txt', Buffer.from('keep'));
    await notImplemented(call(c, name));
    await check(c, name);
    assert.deepEqual((await c.list({})).objects.map(o => o.name), ['keep.txt']);
  });
}

/** The empty bucket `name` still exists, still empty and private. */
async function emptyBucketIntact(c, name) {
  const info = (await c.getBucketInfo(name)).bucket;
  assert.equal(info.Name, name);
  assert.equal(info.AccessControlList.Grant, 'private');
  assert.deepEqual((await c.listBuckets({ prefix: name })).buckets.map(b => b.name), [name]);
  assert.deepEqual((await c.list({})).objects, []);
}

h.matrix('DELETE calls of APIs Coffer lacks are 400 NotImplemented and leave an empty bucket in place', async (t, f) => {
  const { c, name } = await h.newBucket(f);
  for (const [api, call] of NOT_IMPLEMENTED_ON_EMPTY) {
    await t.test(api, async () => {
      await notImplemented(call(c, name));
      await emptyBucketIntact(c, name);
    });
  }
});

h.matrix('an unknown AccessKeyId with an unserved sub-resource on an existing bucket is 403 InvalidAccessKeyId', async (t, f) => {
  const { c, name } = await h.newBucket(f);
  await c.put('keep.txt', Buffer.from('keep'));
  const stranger = await h.client(f, { accessKeyId: 'NoSuchAccessKeyId0001', accessKeySecret: 'whatever', bucket: name });
  await h.ossError(stranger.getBucketTags(name), 403, 'InvalidAccessKeyId');
  await h.ossError(stranger.putObjectTagging('keep.txt', { team: 'a' }), 403, 'InvalidAccessKeyId');
  await h.ossError(stranger.deleteBucketCORS(name), 403, 'InvalidAccessKeyId');
  await h.ossError(stranger.get('keep.txt', { process: 'image/resize,w_10' }), 403, 'InvalidAccessKeyId');
  await refused(stranger.putBucketVersioning(name, 'Enabled'), 403, 'InvalidAccessKeyId');
  await bucketIntact(c, name);
});
