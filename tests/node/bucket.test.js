'use strict';
/** Bucket operations through ali-oss: create, info, location, list, ACL, delete. */
const assert = require('node:assert/strict');
const h = require('./harness');

h.matrix('putBucket, getBucketInfo, getBucketLocation, listBuckets, deleteBucket', async (t, f) => {
  const c = await h.client(f);
  const name = h.uniqueName();

  const put = await c.putBucket(name);
  assert.equal(put.res.status, 200);

  const info = (await c.getBucketInfo(name)).bucket;
  assert.equal(info.Name, name);
  assert.equal(info.Location, h.LOCATION);
  assert.equal(info.StorageClass, 'Standard');
  assert.equal(info.AccessControlList.Grant, 'private');
  assert.ok(info.ExtranetEndpoint && info.IntranetEndpoint, 'endpoints');
  assert.match(info.CreationDate, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z$/);
  assert.ok(info.Owner.ID, 'owner id');
  assert.equal(info.ServerSideEncryptionRule.SSEAlgorithm, 'None');

  const loc = await c.getBucketLocation(name);
  assert.equal(loc.location, h.LOCATION);

  const listed = await c.listBuckets({ prefix: name });
  assert.deepEqual(listed.buckets.map(b => b.name), [name]);
  assert.equal(listed.buckets[0].region, h.LOCATION);
  assert.equal(listed.buckets[0].storageClass, 'Standard');
  assert.ok(listed.owner.id, 'owner id');

  const del = await c.deleteBucket(name);
  assert.equal(del.res.status, 204);
  await h.ossError(c.getBucketInfo(name), 404, 'NoSuchBucket');
  const after = await c.listBuckets({ prefix: name });
  assert.equal(after.buckets, null, 'ali-oss reports no buckets as null');
});

h.matrix('putBucket answers Location: /<bucket>, which ali-oss returns as the bucket name', async (t, f) => {
  const c = await h.client(f);
  const name = h.uniqueName();
  const put = await c.putBucket(name);
  assert.equal(put.res.headers.location, `/${name}`);
  assert.equal(put.bucket, name);
});

h.matrix('putBucketACL answers Location: /<bucket>; getBucketACL reads the grant back', async (t, f) => {
  const { c, name } = await h.newBucket(f);
  const put = await c.putBucketACL(name, 'public-read');
  assert.equal(put.res.headers.location, `/${name}`);
  assert.equal(put.bucket, name);
  const got = await c.getBucketACL(name);
  assert.equal(got.acl, 'public-read');
  assert.ok(got.owner.id, 'owner id');
  assert.equal((await c.getBucketInfo(name)).bucket.AccessControlList.Grant, 'public-read');
});

h.matrix('putBucket with an ACL and the IA storage class', async (t, f) => {
  const c = await h.client(f);
  const name = h.uniqueName();
  await c.putBucket(name, { acl: 'public-read-write', storageClass: 'IA' });
  const info = (await c.getBucketInfo(name)).bucket;
  assert.equal(info.StorageClass, 'IA');
  assert.equal(info.AccessControlList.Grant, 'public-read-write');
  const listed = await c.listBuckets({ prefix: name });
  assert.equal(listed.buckets[0].storageClass, 'IA');
});

h.matrix('getBucketInfo includes Comment (empty when unset)', async (t, f) => {
  const { c, name } = await h.newBucket(f);
  const info = (await c.getBucketInfo(name)).bucket;
  assert.ok(Object.hasOwn(info, 'Comment'), `no Comment in ${JSON.stringify(info)}`);
  assert.equal(info.Comment, '');
});

h.matrix('listBuckets pages with max-keys and marker', async (t, f) => {
  const c = await h.client(f);
  const prefix = h.uniqueName('page');
  const names = [`${prefix}-a`, `${prefix}-b`, `${prefix}-c`];
  for (const n of names) await c.putBucket(n);

  const first = await c.listBuckets({ prefix, 'max-keys': 2 });
  assert.deepEqual(first.buckets.map(b => b.name), names.slice(0, 2));
  assert.equal(first.isTruncated, true);
  assert.equal(first.nextMarker, names[1]);

  const second = await c.listBuckets({ prefix, 'max-keys': 2, marker: first.nextMarker });
  assert.deepEqual(second.buckets.map(b => b.name), names.slice(2));
  assert.equal(second.isTruncated, false);
});

h.matrix('deleteBucket: BucketNotEmpty while an object remains, NoSuchBucket when gone', async (t, f) => {
  const { c, name } = await h.newBucket(f);
  await c.put('keep.txt', Buffer.from('x'));
  await h.ossError(c.deleteBucket(name), 409, 'BucketNotEmpty');
  await c.delete('keep.txt');
  await c.deleteBucket(name);
  await h.ossError(c.deleteBucket(name), 404, 'NoSuchBucket');
});

h.matrix('getBucketInfo endpoints name the service endpoint, not the bucket host', async (t, f) => {
  // Coffer reports the endpoint the client used. With virtual-hosted addressing that is the Host
  // header without its bucket label, as OSS reports oss-cn-hangzhou.aliyuncs.com to a client that
  // called <bucket>.oss-cn-hangzhou.aliyuncs.com.
  const { c, name } = await h.newBucket(f);
  const srv = await h.getServer();
  const endpoint = f.addressing === 'vhost' ? `${h.LOCATION}.aliyuncs.com` : `localhost:${srv.port}`;
  const info = (await c.getBucketInfo(name)).bucket;
  assert.equal(info.ExtranetEndpoint, endpoint);
});

h.matrix('getBucketStat counts objects, bytes and multipart uploads', async (t, f) => {
  const { c, name } = await h.newBucket(f);
  await c.put('one.txt', Buffer.from('12345'));
  await c.put('two.txt', Buffer.from('678'));
  await c.initMultipartUpload('pending.bin');
  const { stat } = await c.getBucketStat(name);
  assert.equal(stat.ObjectCount, '2');
  assert.equal(stat.Storage, '8');
  assert.equal(stat.MultipartUploadCount, '1');
});

h.matrix('putBucket on a bucket the caller already owns succeeds and keeps its objects', async (t, f) => {
  const { c, name } = await h.newBucket(f);
  await c.put('still-here.txt', Buffer.from('x'));
  const again = await c.putBucket(name);
  assert.equal(again.res.status, 200);
  assert.equal((await c.get('still-here.txt')).content.toString(), 'x');
});
