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

const key = (i) => 'k' + String(i).padStart(5, '0')

test('prevSync / prev: back from the position, across batches, at both ends', async () => {
  const db = katamari.open(dbdir(), { sync: 'never', keyEncoding: 'utf8', valueEncoding: 'utf8' })
  fill(db, 100)
  const it = db.iterator()
  assert.equal(it.prevSync(), undefined, 'nothing before the start')
  assert.deepEqual(it.nextSync(), [key(0), 'v0'], 'next after a prev at the start')
  assert.equal(it.prevSync(), undefined)
  assert.equal(it.prevSync(), undefined)
  assert.deepEqual(it.nextSync(), [key(0), 'v0'])
  assert.deepEqual(it.nextSync(), [key(1), 'v1'])
  assert.deepEqual(it.prevSync(), [key(0), 'v0'])
  assert.deepEqual(it.nextSync(), [key(1), 'v1'], 'next after prev continues after it')
  // Past the first batch (16 entries) and into the second (32): 30 entries given.
  for (let i = 2; i < 30; i++) assert.deepEqual(it.nextSync(), [key(i), 'v' + i])
  assert.deepEqual(it.prevSync(), [key(28), 'v28'])
  for (let i = 27; i >= 0; i--) assert.equal(it.prevSync()[0], key(i), 'back across the batch boundary')
  assert.equal(it.prevSync(), undefined)
  for (let i = 0; i < 40; i++) assert.equal(it.nextSync()[0], key(i))
  assert.deepEqual(await it.prev(), [key(38), 'v38'], 'the Promise form')
  assert.deepEqual(await it.next(), [key(39), 'v39'])
  assert.deepEqual(await it.next(), [key(40), 'v40'])
  await it.close()
  throwsCode(() => it.prevSync(), 'KAT_CLOSED')
  await rejectsCode(it.prev(), 'KAT_CLOSED')

  // At the first entry of a fresh batch: the C cursor is a whole batch ahead.
  const b = db.keys()
  for (let i = 0; i < 17; i++) assert.equal(b.nextSync(), key(i)) // 17th is the 1st of batch 2
  assert.equal(b.prevSync(), key(15))
  assert.equal(b.prevSync(), key(14))
  assert.equal(b.nextSync(), key(15))
  assert.equal(b.nextSync(), key(16))
  assert.equal(b.nextSync(), key(17))
  await b.close()
  await db.close()
})

test('prevSync after the end, with the last batch run out or full', async () => {
  const db = katamari.open(dbdir(), { sync: 'never', keyEncoding: 'utf8', valueEncoding: 'utf8' })
  db.batchSync(Array.from({ length: 48 }, (_, i) => ({ type: 'put', key: key(i), value: 'v' })))
  // Batches of 16, 32: with 20 entries the second runs out (the C cursor is past the
  // end); with 17 it holds one entry; with 48 it ends full (the cursor is on its last).
  for (const n of [20, 17, 48, 16, 1]) {
    const keys = db.keys({ lt: key(n) })
    const got = []
    for (let e = keys.nextSync(); e !== undefined; e = keys.nextSync()) got.push(e)
    assert.equal(got.length, n)
    assert.equal(keys.nextSync(), undefined, 'still at the end')
    assert.equal(keys.prevSync(), key(n - 1), `after the end of ${n}: the last entry`)
    if (n > 1) assert.equal(keys.prevSync(), key(n - 2))
    if (n > 1) assert.equal(keys.nextSync(), key(n - 1))
    assert.equal(keys.nextSync(), undefined)
    await keys.close()
    // The same without reading the end first: prev from the last entry given.
    const k2 = db.keys({ lt: key(n) })
    for (let i = 0; i < n; i++) k2.nextSync()
    if (n > 1) assert.equal(k2.prevSync(), key(n - 2), `from the last of ${n}`)
    else assert.equal(k2.prevSync(), undefined)
    await k2.close()
  }
  await db.close()
})

test('prevSync with batches cut short by the byte cap', async () => {
  const db = katamari.open(dbdir(), { sync: 'never', keyEncoding: 'utf8' })
  const big = (i) => Buffer.alloc(300 * 1024, i)
  // 1 MiB per batch: 4 entries of 300 KiB each, then 4, then the last 2 (run out).
  db.batchSync(Array.from({ length: 10 }, (_, i) => ({ type: 'put', key: key(i), value: big(i) })))
  const it = db.iterator()
  for (let i = 0; i < 5; i++) assert.equal(it.nextSync()[0], key(i))
  const [k, v] = it.prevSync() // from the first entry of the second batch
  assert.equal(k, key(3))
  assert.ok(v.equals(big(3)))
  assert.equal(it.nextSync()[0], key(4))
  for (let i = 5; i < 9; i++) assert.equal(it.nextSync()[0], key(i))
  assert.equal(it.prevSync()[0], key(7)) // from the first entry of the last batch
  assert.equal(it.nextSync()[0], key(8))
  assert.equal(it.nextSync()[0], key(9))
  assert.equal(it.nextSync(), undefined)
  assert.equal(it.prevSync()[0], key(9))
  await it.close()
  await db.close()
})

test('prevSync: reverse, prefix and range bounds, keys() / values(), seek', async () => {
  const db = katamari.open(dbdir(), { sync: 'never', keyEncoding: 'utf8', valueEncoding: 'utf8' })
  fill(db, 100)
  const rev = db.keys({ reverse: true })
  assert.equal(rev.prevSync(), undefined)
  for (let i = 99; i >= 60; i--) assert.equal(rev.nextSync(), key(i))
  assert.equal(rev.prevSync(), key(61), 'prev goes up in key order')
  assert.equal(rev.prevSync(), key(62))
  assert.equal(rev.nextSync(), key(61))
  for (let i = 60; i >= 0; i--) assert.equal(rev.nextSync(), key(i))
  assert.equal(rev.nextSync(), undefined)
  assert.equal(rev.prevSync(), key(0))
  assert.equal(rev.prevSync(), key(1))
  await rev.close()

  // A prefix: k0001x, 10 keys.
  const pre = db.keys({ prefix: 'k0001' })
  assert.equal(pre.nextSync(), key(10))
  assert.equal(pre.prevSync(), undefined, 'stops at the prefix start')
  for (let i = 10; i < 20; i++) assert.equal(pre.nextSync(), key(i))
  assert.equal(pre.nextSync(), undefined)
  assert.equal(pre.prevSync(), key(19), 'the prefix end')
  assert.equal(pre.prevSync(), key(18))
  await pre.close()
  const prer = db.keys({ prefix: 'k0001', reverse: true })
  assert.equal(prer.nextSync(), key(19))
  assert.equal(prer.prevSync(), undefined)
  assert.equal(prer.nextSync(), key(19))
  await prer.close()

  // A range [k00020, k00060) crossing batches.
  const range = db.values({ gte: key(20), lt: key(60) })
  for (let i = 20; i < 60; i++) assert.equal(range.nextSync(), 'v' + i)
  assert.equal(range.nextSync(), undefined)
  for (let i = 59; i >= 20; i--) assert.equal(range.prevSync(), 'v' + i)
  assert.equal(range.prevSync(), undefined, 'stops at the range start')
  assert.equal(range.nextSync(), 'v20')
  await range.close()

  // After a seek (applied lazily), and mixed with seek.
  const s = db.keys()
  s.seek(key(50))
  assert.equal(s.nextSync(), key(50))
  assert.equal(s.nextSync(), key(51))
  assert.equal(s.prevSync(), key(50))
  s.seek(key(10))
  assert.equal(s.nextSync(), key(10))
  assert.equal(s.prevSync(), key(9))
  assert.equal(s.nextSync(), key(10))
  await s.close()

  // An async call in flight.
  const f = db.keys()
  const p = f.next()
  throwsCode(() => f.prevSync(), 'KAT_INVALID_ARGUMENT')
  assert.equal(await p, key(0))
  assert.equal(await f.next(), key(1))
  assert.equal(await f.prev(), key(0))
  await f.close()
  await db.close()
  throwsCode(() => f.prevSync(), 'KAT_CLOSED')
})

test('prevSync in a transaction iterator sees its writes', async () => {
  const db = katamari.open(dbdir(), { sync: 'never', keyEncoding: 'utf8', valueEncoding: 'utf8' })
  fill(db, 40)
  const tx = db.begin()
  tx.putSync(key(5) + 'x', 'mine')
  tx.delSync(key(3))
  const it = tx.iterator()
  const want = []
  for (let i = 0; i < 40; i++) {
    if (i !== 3) want.push([key(i), 'v' + i])
    if (i === 5) want.push([key(5) + 'x', 'mine'])
  }
  for (const e of want) assert.deepEqual(it.nextSync(), e)
  assert.equal(it.nextSync(), undefined)
  for (let i = want.length - 1; i >= 0; i--) assert.deepEqual(it.prevSync(), want[i])
  assert.equal(it.prevSync(), undefined)
  assert.deepEqual(it.nextSync(), want[0])
  await it.close()
  tx.abortSync()
  await db.close()
})

// The documented cursor semantics of kat_iter_next / prev / seek over a list of keys.
class Model {
  constructor (keys, reverse) { Object.assign(this, { keys, reverse, from: 0, cur: -1, drained: false }) }
  next () {
    if (this.from < this.keys.length) { this.cur = this.from++; return this.keys[this.cur] }
    this.cur = -1
    this.drained = true
    return undefined
  }

  prev () {
    if (this.cur > 0) this.cur--
    else if (this.cur === 0 || !this.drained || this.keys.length === 0) {
      Object.assign(this, { cur: -1, from: 0, drained: false })
      return undefined
    } else this.cur = this.keys.length - 1
    this.from = this.cur + 1
    this.drained = false
    return this.keys[this.cur]
  }

  seek (k) {
    let i = 0
    while (i < this.keys.length && (this.reverse ? this.keys[i] > k : this.keys[i] < k)) i++
    Object.assign(this, { from: i, cur: -1, drained: false })
  }
}

test('random next / prev / seek against a model', async () => {
  const db = katamari.open(dbdir(), { sync: 'never', keyEncoding: 'utf8', valueEncoding: 'utf8' })
  const n = 1500
  const all = Array.from({ length: n }, (_, i) => key(i * 2))
  db.batchSync(all.map((k) => ({ type: 'put', key: k, value: 'v' + k })))
  let seed = 12345
  const rnd = (m) => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % m }
  for (let round = 0; round < 16; round++) {
    const reverse = round % 2 === 1
    let lo = rnd(n); let hi = rnd(n)
    if (lo > hi) [lo, hi] = [hi, lo]
    const ranged = round % 4 >= 2
    const opts = ranged ? { gte: all[lo], lt: all[hi], reverse } : { reverse }
    const sel = ranged ? all.slice(lo, hi) : all.slice()
    if (reverse) sel.reverse()
    const m = new Model(sel, reverse)
    const it = db.iterator(opts)
    for (let step = 0; step < 2500; step++) {
      const r = rnd(100)
      let op, want, got
      if (r < 70) {
        op = 'next'; want = m.next(); got = it.nextSync()
      } else if (r < 97) {
        op = 'prev'; want = m.prev(); got = it.prevSync()
      } else {
        const k = key(rnd(2 * n + 2))
        m.seek(k)
        it.seek(k)
        continue
      }
      const where = `round ${round} step ${step} ${op}`
      if (want === undefined) assert.equal(got, undefined, where)
      else assert.deepEqual(got, [want, 'v' + want], where)
    }
    await it.close()
  }
  await db.close()
})
