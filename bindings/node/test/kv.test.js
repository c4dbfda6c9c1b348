'use strict'
// Opening, options, key/value calls (async and sync), batches, encodings, stats, errors.

const { test } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const katamari = require('..')
const { dbdir, tmpdir, throwsCode, rejectsCode, b } = require('./helpers')

test('module exports', () => {
  assert.deepEqual(Object.keys(katamari).sort(), [
    'ChainedBatch', 'DB', 'Iterator', 'KatamariLevel', 'Keyspace', 'Transaction',
    'TransactionView', 'codes', 'encodings', 'open', 'openAsync', 'statusString', 'version',
    'versionNumber'
  ])
  assert.match(katamari.version(), /^\d+\.\d+\.\d+$/)
  const [maj, min, pat] = katamari.version().split('.').map(Number)
  assert.equal(katamari.versionNumber, maj * 1000000 + min * 1000 + pat)
  assert.equal(katamari.codes.KAT_OK, 0)
  assert.equal(katamari.codes.KAT_NOT_FOUND, 1)
  assert.equal(katamari.codes.KAT_BUFFER_TOO_SMALL, 14)
  for (const [name, code] of Object.entries(katamari.codes)) {
    const text = katamari.statusString(code)
    assert.equal(typeof text, 'string', name)
    assert.ok(text.length > 0, name)
  }
  assert.equal(typeof katamari.statusString(9999), 'string')
  throwsCode(() => katamari.statusString('x'), 'KAT_INVALID_ARGUMENT')
  assert.deepEqual(Object.keys(katamari.encodings).sort(), ['binary', 'buffer', 'json', 'utf-8', 'utf8'])
})

test('open: options and their errors', async () => {
  const dir = dbdir()
  for (const sync of ['always', 'interval', 'never']) {
    const db = katamari.open(dir, { sync, syncIntervalMs: sync === 'interval' ? 5 : undefined, segmentSize: 4096 })
    assert.ok(db instanceof katamari.DB)
    assert.equal(db.status, 'open')
    assert.equal(db.location, dir)
    db.putSync('k', sync)
    await db.close()
    assert.equal(db.status, 'closed')
  }
  const db = katamari.open(dir, { createIfMissing: false, salvage: false })
  assert.equal(db.getSync('k').toString(), 'never')
  throwsCode(() => katamari.open(dir), 'KAT_LOCKED')
  await db.close()

  throwsCode(() => katamari.open(path.join(tmpdir(), 'missing'), { createIfMissing: false }), 'KAT_IO')
  const file = path.join(tmpdir(), 'file')
  fs.writeFileSync(file, 'x')
  throwsCode(() => katamari.open(file), 'KAT_IO')
  throwsCode(() => katamari.open(dbdir(), { segmentSize: 10 }), 'KAT_INVALID_ARGUMENT')
  throwsCode(() => katamari.open(dbdir(), { segmentSize: -1 }), 'KAT_INVALID_ARGUMENT')
  throwsCode(() => katamari.open(dbdir(), { sync: 'interval', syncIntervalMs: 0 }), 'KAT_INVALID_ARGUMENT')
  throwsCode(() => katamari.open(dbdir(), { sync: 'sometimes' }), 'KAT_INVALID_ARGUMENT')
  throwsCode(() => katamari.open(dbdir(), { keyEncoding: 'hex' }), 'KAT_INVALID_ARGUMENT')
  throwsCode(() => katamari.open(''), 'KAT_INVALID_ARGUMENT')
  throwsCode(() => katamari.open(42), 'KAT_INVALID_ARGUMENT')
  throwsCode(() => katamari.open('a\0b'), 'KAT_INVALID_ARGUMENT')
})

test('openAsync', async () => {
  const dir = dbdir()
  const db = await katamari.openAsync(dir, { sync: 'never', valueEncoding: 'utf8' })
  await db.put('a', 'b')
  assert.equal(await db.get('a'), 'b')
  await rejectsCode(katamari.openAsync(dir), 'KAT_LOCKED')
  await rejectsCode(katamari.openAsync(dir, { sync: 'x' }), 'KAT_INVALID_ARGUMENT')
  await db.close()
})

test('corruption is reported, salvage opens anyway', async () => {
  const dir = dbdir()
  let db = katamari.open(dir, { sync: 'never', segmentSize: 1024 })
  for (let i = 0; i < 100; i++) db.putSync('key' + i, 'value-' + i + '-'.repeat(50))
  await db.close()
  const seg = fs.readdirSync(dir).filter((f) => f.endsWith('.kseg')).sort()[0]
  assert.ok(seg, 'a segment file')
  const p = path.join(dir, seg)
  const bytes = fs.readFileSync(p)
  bytes[200] ^= 0xff
  fs.writeFileSync(p, bytes)
  throwsCode(() => katamari.open(dir), 'KAT_CORRUPTION')
  db = katamari.open(dir, { salvage: true })
  assert.ok(db.statsSync().liveKeys < 100)
  await db.close()
})

test('async get/put/delete/has/putTTL', async () => {
  const db = katamari.open(dbdir(), { sync: 'never' })
  assert.equal(await db.put('a', 'one'), undefined)
  await db.put(b('b'), new Uint8Array([1, 2, 3]))
  await db.put(new Uint8Array([0, 255]), b(''))
  const a = await db.get('a')
  assert.ok(Buffer.isBuffer(a))
  assert.deepEqual(a, b('one'))
  assert.deepEqual(await db.get('b'), Buffer.from([1, 2, 3]))
  assert.deepEqual(await db.get(Buffer.from([0, 255])), Buffer.alloc(0), 'empty value is not missing')
  assert.equal(await db.has('a'), true)
  assert.equal(await db.has('zzz'), false)
  await rejectsCode(db.get('zzz'), 'KAT_NOT_FOUND')
  assert.equal(await db.tryGet('zzz'), undefined)
  assert.deepEqual(await db.tryGet('a'), b('one'))
  assert.equal(await db.delete('a'), undefined)
  assert.equal(await db.delete('a'), undefined, 'deleting an absent key succeeds')
  await db.del('b')
  assert.equal(await db.has('a'), false)
  assert.equal(await db.has('b'), false)
  await db.putTTL('t', 'v', 300)
  assert.deepEqual(await db.get('t'), b('v'))
  await new Promise((resolve) => setTimeout(resolve, 400))
  await rejectsCode(db.get('t'), 'KAT_NOT_FOUND')
  await rejectsCode(db.putTTL('t', 'v', 0), 'KAT_INVALID_ARGUMENT')
  await rejectsCode(db.putTTL('t', 'v', -5), 'KAT_INVALID_ARGUMENT')
  await rejectsCode(db.put(Buffer.alloc(65537), 'x'), 'KAT_TOO_LARGE')
  await rejectsCode(db.put(null, 'x'), 'KAT_INVALID_ARGUMENT')
  await rejectsCode(db.put('k', undefined), 'KAT_INVALID_ARGUMENT')
  await rejectsCode(db.get(42), 'KAT_INVALID_ARGUMENT')
  await rejectsCode(db.has({}), 'KAT_INVALID_ARGUMENT')
  await rejectsCode(db.delete(new Uint16Array(2)), 'KAT_INVALID_ARGUMENT')
  await db.close()
})

test('expiresAt and expiresAtSync: ms since the epoch, 0 for never, KAT_NOT_FOUND without a value', async () => {
  const dir = dbdir()
  let db = katamari.open(dir, { sync: 'never', keyEncoding: 'utf8' })
  const before = Date.now()
  await db.putTTL('long', 'v', 3600000)
  db.putTTLSync('longSync', 'v', 7200000)
  const after = Date.now()
  const at = await db.expiresAt('long')
  assert.equal(typeof at, 'number')
  assert.ok(Number.isInteger(at))
  assert.ok(at >= before + 3600000 - 1 && at <= after + 3600000 + 1, `${at} within [${before}, ${after}] + 1 h`)
  const atSync = db.expiresAtSync('longSync')
  assert.ok(atSync >= before + 7200000 - 1 && atSync <= after + 7200000 + 1, `${atSync} within [${before}, ${after}] + 2 h`)
  assert.equal(db.expiresAtSync('long'), at, 'sync and async agree')
  assert.equal(await db.expiresAt(b('long')), at, 'a Buffer key is the same key')

  // No expiry: a plain put, and a plain put over a TTL put.
  db.putSync('plain', 'v')
  db.putTTLSync('made-plain', 'v', 3600000)
  await db.put('made-plain', 'w')
  assert.equal(await db.expiresAt('plain'), 0)
  assert.equal(db.expiresAtSync('made-plain'), 0)
  db.putSync('', 'empty key')
  assert.equal(db.expiresAtSync(''), 0, 'the empty key is a key')

  // A later TTL replaces the expiry; a batch TTL counts from the write.
  await db.putTTL('long', 'v', 60000)
  assert.ok(db.expiresAtSync('long') <= Date.now() + 60000)
  await db.batch([{ type: 'put', key: 'batched', value: 'v', ttl: 600000 }])
  db.batch().put('chained', 'v', { ttl: 600000 }).writeSync()
  for (const k of ['batched', 'chained']) {
    const left = db.expiresAtSync(k) - Date.now()
    assert.ok(left > 590000 && left <= 600000, `${k}: ${left} ms left`)
  }

  // No live value: never written, deleted, expired. Like get: reject / throw.
  db.putTTLSync('deleted', 'v', 3600000)
  await db.delete('deleted')
  await db.putTTL('short', 'v', 1)
  await new Promise((resolve) => setTimeout(resolve, 20))
  for (const k of ['never-written', 'deleted', 'short']) {
    await rejectsCode(db.expiresAt(k), 'KAT_NOT_FOUND')
    throwsCode(() => db.expiresAtSync(k), 'KAT_NOT_FOUND')
  }
  // Keys of the wrong type.
  await rejectsCode(db.expiresAt(null), 'KAT_INVALID_ARGUMENT')
  throwsCode(() => db.expiresAtSync(undefined), 'KAT_INVALID_ARGUMENT')
  throwsCode(() => db.expiresAtSync(Buffer.alloc(65537)), 'KAT_NOT_FOUND') // no such key, as for get
  await db.close()

  // Expiries are stored: they read back the same after a reopen.
  db = katamari.open(dir, { keyEncoding: 'utf8' })
  assert.equal(await db.expiresAt('longSync'), atSync)
  assert.equal(db.expiresAtSync('plain'), 0)
  throwsCode(() => db.expiresAtSync('deleted'), 'KAT_NOT_FOUND')
  await db.close()
})

test('sync get/put/delete/has/putTTL', async () => {
  const db = katamari.open(dbdir(), { sync: 'never' })
  assert.equal(db.putSync('a', 'one'), undefined)
  assert.deepEqual(db.getSync('a'), b('one'))
  assert.deepEqual(db.tryGetSync('a'), b('one'))
  assert.equal(db.tryGetSync('nope'), undefined)
  throwsCode(() => db.getSync('nope'), 'KAT_NOT_FOUND')
  assert.equal(db.hasSync('a'), true)
  db.deleteSync('a')
  db.delSync('a')
  assert.equal(db.hasSync('a'), false)
  db.putTTLSync('t', 'v', 300)
  assert.equal(db.hasSync('t'), true)
  await new Promise((resolve) => setTimeout(resolve, 400))
  assert.equal(db.hasSync('t'), false)
  throwsCode(() => db.putTTLSync('t', 'v', 0), 'KAT_INVALID_ARGUMENT')
  throwsCode(() => db.putTTLSync('t', 'v', 1.5), 'KAT_INVALID_ARGUMENT')
  throwsCode(() => db.putSync(Buffer.alloc(65537), 'x'), 'KAT_TOO_LARGE')
  db.putSync(Buffer.alloc(65536, 1), 'max key')
  assert.deepEqual(db.getSync(Buffer.alloc(65536, 1)), b('max key'))
  db.putSync('', 'empty key')
  assert.deepEqual(db.getSync(''), b('empty key'))
  throwsCode(() => db.putSync(undefined, 'x'), 'KAT_INVALID_ARGUMENT')
  throwsCode(() => db.getSync(), 'KAT_INVALID_ARGUMENT')
  // A large value crosses intact; a subarray is read at its offset.
  const big = Buffer.alloc(3 << 20)
  for (let i = 0; i < big.length; i += 4096) big[i] = i & 0xff
  db.putSync('big', big)
  assert.ok(db.getSync('big').equals(big))
  const whole = Buffer.from('xxhelloxx')
  db.putSync(whole.subarray(2, 7), whole.subarray(0, 2))
  assert.deepEqual(db.getSync('hello'), b('xx'))
  // Returned buffers are copies: changing one changes nothing stored.
  const got = db.getSync('hello')
  got[0] = 0x41
  assert.deepEqual(db.getSync('hello'), b('xx'))
  await db.close()
})

test('async gets of one tick are read together, each settles on its own', async () => {
  const db = katamari.open(dbdir(), { sync: 'never', valueEncoding: 'utf8' })
  const ks = db.keyspace('ks', { valueEncoding: 'json' })
  for (let i = 0; i < 600; i++) db.putSync('k' + i, 'v' + i)
  ks.putSync('k1', { in: 'ks' })
  const gets = []
  for (let i = 0; i < 600; i++) gets.push(db.get('k' + i))
  const bad = rejectsCode(db.get(42), 'KAT_INVALID_ARGUMENT')
  const missing = rejectsCode(db.get('nope'), 'KAT_NOT_FOUND')
  const inKs = ks.get('k1')
  const tries = [db.tryGet('k5'), db.tryGet('nope')]
  const values = await Promise.all(gets)
  values.forEach((v, i) => assert.equal(v, 'v' + i))
  await bad
  await missing
  assert.deepEqual(await inKs, { in: 'ks' })
  assert.deepEqual(await Promise.all(tries), ['v5', undefined])
  // Gets issued just before close() complete; close() waits for them.
  const late = db.get('k7')
  await db.close()
  assert.equal(await late, 'v7')
})

test('getMany', async () => {
  const db = katamari.open(dbdir(), { sync: 'never', valueEncoding: 'utf8' })
  db.putSync('a', '1')
  db.putSync('c', '3')
  assert.deepEqual(await db.getMany(['a', 'b', 'c']), ['1', undefined, '3'])
  assert.deepEqual(db.getManySync(['c', 'a', 'zz']), ['3', '1', undefined])
  assert.deepEqual(await db.getMany([]), [])
  await rejectsCode(db.getMany('a'), 'KAT_INVALID_ARGUMENT')
  await rejectsCode(db.getMany([1]), 'KAT_INVALID_ARGUMENT')
  throwsCode(() => db.getManySync([null]), 'KAT_INVALID_ARGUMENT')
  const many = Array.from({ length: 1000 }, (_, i) => 'k' + i)
  assert.equal((await db.getMany(many)).length, 1000)
  await db.close()
})

test('batch: array, chained, sync, atomic on error', async () => {
  const db = katamari.open(dbdir(), { sync: 'never', valueEncoding: 'utf8' })
  await db.batch([
    { type: 'put', key: 'a', value: '1' },
    { type: 'put', key: 'b', value: '2' },
    { type: 'put', key: 't', value: 'ttl', ttl: 300 },
    { type: 'del', key: 'b' }
  ])
  assert.equal(db.getSync('a'), '1')
  assert.equal(db.hasSync('b'), false)
  assert.equal(db.getSync('t'), 'ttl')
  await db.batch([])
  db.batchSync([{ type: 'delete', key: 'a' }, { type: 'put', key: 'c', value: '3' }])
  assert.equal(db.hasSync('a'), false)
  assert.equal(db.getSync('c'), '3')

  const chained = db.batch()
  assert.ok(chained instanceof katamari.ChainedBatch)
  chained.put('x', '1').put('y', '2').del('c').put('z', 'zz', { ttl: 1000 })
  assert.equal(chained.length, 4)
  await chained.write()
  assert.equal(chained.length, 0)
  assert.deepEqual(db.getManySync(['x', 'y', 'c', 'z']), ['1', '2', undefined, 'zz'])
  const c2 = db.batch().put('q', '1').delete('x')
  c2.clear()
  assert.equal(c2.length, 0)
  c2.put('w', 'w').writeSync()
  assert.equal(db.getSync('w'), 'w')

  // A bad operation anywhere: nothing of the batch is written.
  await rejectsCode(db.batch([{ type: 'put', key: 'n1', value: '1' }, { type: 'put', key: Buffer.alloc(70000), value: '' }]), 'KAT_TOO_LARGE')
  assert.equal(db.hasSync('n1'), false)
  await rejectsCode(db.batch([{ type: 'merge', key: 'a' }]), 'KAT_INVALID_ARGUMENT')
  await rejectsCode(db.batch([null]), 'KAT_INVALID_ARGUMENT')
  await rejectsCode(db.batch('nope'), 'KAT_INVALID_ARGUMENT')
  await rejectsCode(db.batch([{ type: 'put', key: 'a', value: '1', ttl: 0 }]), 'KAT_INVALID_ARGUMENT')
  throwsCode(() => db.batchSync([{ type: 'put', key: 'a' }]), 'KAT_INVALID_ARGUMENT')
  await new Promise((resolve) => setTimeout(resolve, 400))
  assert.equal(db.hasSync('t'), false, 'batch ttl expired')
  await db.close()
})

test('encodings: buffer, utf8, json, custom', async () => {
  const dir = dbdir()
  const db = katamari.open(dir, { sync: 'never', keyEncoding: 'utf8', valueEncoding: 'json' })
  assert.equal(db.keyEncoding, 'utf8')
  assert.equal(db.valueEncoding, 'json')
  await db.put('doc', { a: [1, 2], s: 'é' })
  assert.deepEqual(await db.get('doc'), { a: [1, 2], s: 'é' })
  db.putSync(7, null)
  assert.equal(db.getSync('7'), null)
  throwsCode(() => db.putSync('u', undefined), 'KAT_INVALID_ARGUMENT')
  const [[k, v]] = await db.iterator({ prefix: 'doc' }).all()
  assert.equal(k, 'doc')
  assert.deepEqual(v, { a: [1, 2], s: 'é' })
  await db.close()

  const raw = katamari.open(dir, { valueEncoding: 'buffer' })
  assert.deepEqual(raw.getSync('doc'), b('{"a":[1,2],"s":"é"}'))
  await raw.close()

  const hex = {
    name: 'hex',
    format: 'buffer',
    encode: (s) => Buffer.from(s, 'hex'),
    decode: (buf) => buf.toString('hex')
  }
  const custom = katamari.open(dir, { keyEncoding: hex, valueEncoding: hex })
  custom.putSync('00ff', 'abcd')
  assert.equal(custom.getSync('00ff'), 'abcd')
  assert.deepEqual(custom.keys({ prefix: '00' }).nextSync(), '00ff')
  await custom.close()
})

test('stats and sync', async () => {
  const db = katamari.open(dbdir(), { sync: 'never' })
  const s0 = await db.stats()
  const fields = ['liveKeys', 'liveBytes', 'deadBytes', 'totalBytes', 'segments', 'keydirBytes', 'lastSeq',
    'merges', 'mergeFailures']
  assert.deepEqual(Object.keys(s0).sort(), [...fields].sort())
  for (const f of fields) assert.equal(typeof s0[f], 'number', f)
  assert.equal(s0.liveKeys, 0)
  assert.equal(s0.merges, 0)
  db.putSync('a', '1')
  db.putSync('a', '2')
  db.putSync('b', '1')
  const s1 = db.statsSync()
  assert.equal(s1.liveKeys, 2)
  assert.ok(s1.lastSeq > s0.lastSeq)
  assert.ok(s1.totalBytes >= s1.liveBytes)
  assert.equal(await db.sync(), undefined)
  db.syncSync()
  await db.close()
})

test('every call after close fails with KAT_CLOSED', async () => {
  const db = katamari.open(dbdir(), { sync: 'never' })
  const ks = db.keyspace('ks')
  const tx = db.begin()
  await db.close()
  assert.equal(await db.close(), undefined, 'closing twice is fine')
  for (const t of [db, ks]) {
    await rejectsCode(t.get('a'), 'KAT_CLOSED')
    await rejectsCode(t.tryGet('a'), 'KAT_CLOSED')
    await rejectsCode(t.getMany(['a']), 'KAT_CLOSED')
    await rejectsCode(t.has('a'), 'KAT_CLOSED')
    await rejectsCode(t.expiresAt('a'), 'KAT_CLOSED')
    await rejectsCode(t.put('a', 'b'), 'KAT_CLOSED')
    await rejectsCode(t.putTTL('a', 'b', 10), 'KAT_CLOSED')
    await rejectsCode(t.delete('a'), 'KAT_CLOSED')
    await rejectsCode(t.batch([]), 'KAT_CLOSED')
    throwsCode(() => t.getSync('a'), 'KAT_CLOSED')
    throwsCode(() => t.tryGetSync('a'), 'KAT_CLOSED')
    throwsCode(() => t.getManySync(['a']), 'KAT_CLOSED')
    throwsCode(() => t.hasSync('a'), 'KAT_CLOSED')
    throwsCode(() => t.expiresAtSync('a'), 'KAT_CLOSED')
    throwsCode(() => t.putSync('a', 'b'), 'KAT_CLOSED')
    throwsCode(() => t.putTTLSync('a', 'b', 10), 'KAT_CLOSED')
    throwsCode(() => t.deleteSync('a'), 'KAT_CLOSED')
    throwsCode(() => t.batchSync([]), 'KAT_CLOSED')
    throwsCode(() => t.iterator(), 'KAT_CLOSED')
    await rejectsCode(t.batch().put('a', 'b').write(), 'KAT_CLOSED')
  }
  await rejectsCode(db.sync(), 'KAT_CLOSED')
  await rejectsCode(db.stats(), 'KAT_CLOSED')
  await rejectsCode(db.keyspaces(), 'KAT_CLOSED')
  await rejectsCode(db.dropKeyspace('ks'), 'KAT_CLOSED')
  throwsCode(() => db.syncSync(), 'KAT_CLOSED')
  throwsCode(() => db.statsSync(), 'KAT_CLOSED')
  throwsCode(() => db.keyspacesSync(), 'KAT_CLOSED')
  throwsCode(() => db.dropKeyspaceSync('ks'), 'KAT_CLOSED')
  throwsCode(() => db.keyspace('ks'), 'KAT_CLOSED')
  throwsCode(() => db.begin(), 'KAT_CLOSED')
  await rejectsCode(db.transaction(async () => {}), 'KAT_CLOSED')
  await rejectsCode(tx.get('a'), 'KAT_CLOSED')
  await rejectsCode(tx.put('a', 'b'), 'KAT_CLOSED')
  await rejectsCode(tx.commit(), 'KAT_CLOSED')
  throwsCode(() => tx.getSync('a'), 'KAT_CLOSED')
  throwsCode(() => tx.commitSync(), 'KAT_CLOSED')
})

test('the native layer reports KAT_CLOSED on its own', async () => {
  // Below the JavaScript checks: the library's handles after kat_db_close.
  const binding = require('../build/Release/katamari.node')
  const h = binding.open(dbdir(), 2, 0, null, false, true)
  const ks = binding.keyspaceOpen(h, 'x')
  await binding.close(h)
  throwsCode(() => binding.getSync(h, null, 'a', 0), 'KAT_CLOSED')
  throwsCode(() => binding.putSync(ks, null, 'a', 'b'), 'KAT_CLOSED')
  throwsCode(() => binding.expiresAtSync(h, null, 'a'), 'KAT_CLOSED')
  throwsCode(() => binding.expiresAtSync(ks, null, 'a'), 'KAT_CLOSED')
  await rejectsCode(binding.expiresAt(ks, null, 'a'), 'KAT_CLOSED')
  await rejectsCode(binding.get(h, null, 'a', 0), 'KAT_CLOSED')
  binding.closeSync(h) // closing twice is fine
  // Handles of the wrong kind are TypeErrors, never crashes.
  throwsCode(() => binding.getSync(ks, ks, 'a', 0), 'KAT_INVALID_ARGUMENT')
  throwsCode(() => binding.getSync({}, null, 'a', 0), 'KAT_INVALID_ARGUMENT')
  throwsCode(() => binding.stats(ks), 'KAT_INVALID_ARGUMENT')
  throwsCode(() => binding.expiresAtSync(ks, ks, 'a'), 'KAT_INVALID_ARGUMENT')
  throwsCode(() => binding.iterNext(h, 1, 1, 0), 'KAT_INVALID_ARGUMENT')
})
