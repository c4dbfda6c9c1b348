'use strict'
// Async iterators: ranges, prefixes, reverse, limits, seeks, batching, snapshots.

const { test } = require('node:test')
const assert = require('node:assert/strict')
const katamari = require('..')
const { dbdir, throwsCode, rejectsCode } = require('./helpers')

function fill (db, n) {
  const ops = []
  for (let i = 0; i < n; i++) ops.push({ type: 'put', key: 'k' + String(i).padStart(5, '0'), value: 'v' + i })
  db.batchSync(ops)
}

async function collect (it) {
  const out = []
  for await (const e of it) out.push(e)
  return out
}

const keysOf = (entries) => entries.map(([k]) => k)

test('for await over every key, in order, in batches', async () => {
  const db = katamari.open(dbdir(), { sync: 'never', keyEncoding: 'utf8', valueEncoding: 'utf8' })
  fill(db, 5000) // more than one batch of the largest size
  const all = await collect(db.iterator())
  assert.equal(all.length, 5000)
  assert.deepEqual(all[0], ['k00000', 'v0'])
  assert.deepEqual(all[4999], ['k04999', 'v4999'])
  for (let i = 1; i < all.length; i++) assert.ok(all[i - 1][0] < all[i][0])
  const rev = await collect(db.iterator({ reverse: true }))
  assert.deepEqual(keysOf(rev), keysOf(all).reverse())
  await db.close()
})

test('range options: gt/gte/lt/lte, start/end, prefix, reverse, limit', async () => {
  const db = katamari.open(dbdir(), { sync: 'never', keyEncoding: 'utf8', valueEncoding: 'utf8' })
  for (const k of ['a', 'b', 'b\x00', 'ba', 'bb', 'c', 'ca', 'd']) db.putSync(k, k.toUpperCase())
  const keys = async (o) => keysOf(await db.iterator(o).all())
  assert.deepEqual(await keys({ gte: 'b', lt: 'c' }), ['b', 'b\x00', 'ba', 'bb'])
  assert.deepEqual(await keys({ gt: 'b', lte: 'c' }), ['b\x00', 'ba', 'bb', 'c'])
  assert.deepEqual(await keys({ gt: 'b', lte: 'c', reverse: true }), ['c', 'bb', 'ba', 'b\x00'])
  assert.deepEqual(await keys({ start: 'ba', end: 'ca' }), ['ba', 'bb', 'c'])
  assert.deepEqual(await keys({ start: 'a', end: 'd', gt: 'c' }), ['ca'], 'gt wins over start')
  assert.deepEqual(await keys({ gte: 'b', gt: 'c', lte: 'c', lt: 'b' }), ['b', 'b\x00', 'ba', 'bb', 'c'], 'gte / lte win, as in Level')
  assert.deepEqual(await keys({ prefix: 'b' }), ['b', 'b\x00', 'ba', 'bb'])
  assert.deepEqual(await keys({ prefix: 'b', gt: 'b\x00' }), ['ba', 'bb'])
  assert.deepEqual(await keys({ prefix: 'b', reverse: true, limit: 2 }), ['bb', 'ba'])
  assert.deepEqual(await keys({ limit: 0 }), [])
  assert.deepEqual(await keys({ limit: -1 }), ['a', 'b', 'b\x00', 'ba', 'bb', 'c', 'ca', 'd'])
  assert.deepEqual(await keys({ prefix: 'zz' }), [])
  assert.deepEqual(await keys({ gte: 'e' }), [])
  assert.deepEqual(await keys({ prefix: '' }), ['a', 'b', 'b\x00', 'ba', 'bb', 'c', 'ca', 'd'])
  assert.deepEqual(await keys({ lte: 'b\x00' }), ['a', 'b', 'b\x00'])
  throwsCode(() => db.iterator('x'), 'KAT_INVALID_ARGUMENT')
  await db.close()
  const raw = katamari.open(dbdir(), { sync: 'never' })
  throwsCode(() => raw.iterator({ prefix: 5 }), 'KAT_INVALID_ARGUMENT')
  throwsCode(() => raw.iterator({ gte: {} }), 'KAT_INVALID_ARGUMENT')
  await raw.close()
})

test('next, nextv, nextSync, all, keys(), values(), keys/values options', async () => {
  const db = katamari.open(dbdir(), { sync: 'never', keyEncoding: 'utf8', valueEncoding: 'json' })
  for (let i = 0; i < 10; i++) db.putSync('k' + i, { i })
  const it = db.iterator()
  assert.deepEqual(await it.next(), ['k0', { i: 0 }])
  assert.deepEqual(it.nextSync(), ['k1', { i: 1 }])
  const v = await it.nextv(3)
  assert.deepEqual(keysOf(v), ['k2', 'k3', 'k4'])
  assert.equal((await it.all()).length, 5)
  assert.equal(it.closed, true)
  await rejectsCode(it.next(), 'KAT_CLOSED')
  throwsCode(() => it.nextSync(), 'KAT_CLOSED')
  await rejectsCode(db.iterator().nextv(0), 'KAT_INVALID_ARGUMENT')

  assert.deepEqual(await db.keys({ lt: 'k3' }).all(), ['k0', 'k1', 'k2'])
  assert.deepEqual(await db.values({ gte: 'k8' }).all(), [{ i: 8 }, { i: 9 }])
  assert.deepEqual(await db.iterator({ gte: 'k9', values: false }).all(), [['k9', undefined]])
  assert.deepEqual(await db.iterator({ gte: 'k9', keys: false }).all(), [[undefined, { i: 9 }]])

  const s = db.iterator()
  let n = 0
  while (s.nextSync() !== undefined) n++
  assert.equal(n, 10)
  assert.equal(s.nextSync(), undefined)
  assert.equal(await s.next(), undefined)
  await s.close()

  // Concurrent next() calls are served in order.
  const c = db.keys()
  const got = await Promise.all([c.next(), c.next(), c.next()])
  assert.deepEqual(got, ['k0', 'k1', 'k2'])
  await c.close()
  const busy = db.keys()
  const p = busy.next() // the first fetch is in flight
  throwsCode(() => busy.nextSync(), 'KAT_INVALID_ARGUMENT')
  assert.equal(await p, 'k0')
  assert.equal(busy.nextSync(), 'k1')
  await busy.close()
  await db.close()
})

test('seek', async () => {
  const db = katamari.open(dbdir(), { sync: 'never', keyEncoding: 'utf8', valueEncoding: 'utf8' })
  fill(db, 3000)
  const it = db.keys()
  assert.equal(await it.next(), 'k00000')
  it.seek('k02000')
  assert.equal(await it.next(), 'k02000')
  assert.equal(await it.next(), 'k02001')
  it.seek('k00005')
  assert.equal(it.nextSync(), 'k00005')
  it.seek('k1') // after every key
  assert.equal(await it.next(), undefined)
  it.seek('k00100') // a seek revives an exhausted iterator
  assert.equal(await it.next(), 'k00100')
  await it.close()

  const rev = db.keys({ reverse: true })
  rev.seek('k01000x') // at or below, for a reverse iterator
  assert.equal(await rev.next(), 'k01000')
  assert.equal(await rev.next(), 'k00999')
  rev.seek('k00010')
  assert.equal(await rev.next(), 'k00010')
  assert.equal(await rev.next(), 'k00009')
  await rev.close()
  throwsCode(() => rev.seek('a'), 'KAT_CLOSED')

  // A seek while the first fetch is in flight applies to that next().
  const fresh = db.keys()
  const pending = fresh.next()
  fresh.seek('k02500')
  assert.equal(await pending, 'k02500')
  assert.equal(await fresh.next(), 'k02501')
  await fresh.close()
  await db.close()
})

test('an iterator reads the snapshot taken when it was made', async () => {
  const db = katamari.open(dbdir(), { sync: 'never', keyEncoding: 'utf8', valueEncoding: 'utf8' })
  db.putSync('a', '1')
  db.putSync('b', '2')
  const it = db.iterator()
  db.putSync('c', '3')
  db.deleteSync('a')
  db.putSync('b', 'changed')
  assert.deepEqual(await it.all(), [['a', '1'], ['b', '2']])
  assert.deepEqual(await db.iterator().all(), [['b', 'changed'], ['c', '3']])
  await db.close()
})

test('break out of for await closes the iterator', async () => {
  const db = katamari.open(dbdir(), { sync: 'never' })
  fill(db, 100)
  const it = db.iterator()
  for await (const [k] of it) {
    assert.equal(k.toString(), 'k00000')
    break
  }
  assert.equal(it.closed, true)
  await db.close()
})

test('close() closes open iterators and waits for their fetches', async () => {
  const db = katamari.open(dbdir(), { sync: 'never' })
  fill(db, 2000)
  const its = Array.from({ length: 10 }, () => db.iterator())
  const firsts = its.map((it) => it.next())
  await db.close()
  for (const p of firsts) assert.ok(Array.isArray(await p), 'the fetch in flight completed')
  for (const it of its) {
    assert.equal(it.closed, true)
    await rejectsCode(it.next(), 'KAT_CLOSED')
  }
})
