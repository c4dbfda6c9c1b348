'use strict'
// Lifetime: many calls in flight, close() with work pending, finalizers under
// global.gc() (run with --expose-gc), the event loop staying free, worker threads.

const { test } = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')
const { Worker } = require('node:worker_threads')
const katamari = require('..')
const { dbdir, throwsCode, rejectsCode } = require('./helpers')

const gc = global.gc
const needGc = { skip: typeof gc !== 'function' && 'run with node --expose-gc' }

async function settle () {
  // Finalizers of wrapped objects run after a GC, from the event loop.
  for (let i = 0; i < 5; i++) {
    gc()
    await new Promise((resolve) => setImmediate(resolve))
  }
}

test('10,000 concurrent async operations', async () => {
  const db = katamari.open(dbdir(), { sync: 'never', keyEncoding: 'utf8', valueEncoding: 'utf8' })
  const N = 10000
  const puts = []
  for (let i = 0; i < N; i++) puts.push(db.put('k' + i, 'v' + i))
  await Promise.all(puts)
  const ops = []
  for (let i = 0; i < N; i++) {
    switch (i % 4) {
      case 0: ops.push(db.get('k' + i).then((v) => assert.equal(v, 'v' + i))); break
      case 1: ops.push(db.has('k' + i).then((v) => assert.equal(v, true))); break
      case 2: ops.push(db.put('k' + i, 'w' + i)); break
      default: ops.push(db.tryGet('missing' + i).then((v) => assert.equal(v, undefined)))
    }
  }
  await Promise.all(ops)
  assert.equal(db.statsSync().liveKeys, N)
  assert.equal(db.getSync('k2'), 'w2')
  await db.close()
})

test('10,000 async puts with sync: always (group commit) keep the event loop free', async () => {
  const db = katamari.open(dbdir(), { sync: 'always' })
  let ticks = 0
  const timer = setInterval(() => { ticks++ }, 1)
  const start = Date.now()
  await Promise.all(Array.from({ length: 10000 }, (_, i) => db.put('k' + i, 'value')))
  const ms = Date.now() - start
  clearInterval(timer)
  assert.ok(ticks > 0, `timers ran while the puts were in flight (${ms} ms, ${ticks} ticks)`)
  assert.equal(db.statsSync().liveKeys, 10000)
  await db.close()
})

test('close() resolves after the work in flight; later calls fail with KAT_CLOSED', async () => {
  const dir = dbdir()
  const db = katamari.open(dir, { sync: 'always', valueEncoding: 'utf8' })
  const settled = []
  const pending = []
  for (let i = 0; i < 2000; i++) {
    pending.push(db.put('k' + i, 'v' + i).then(() => settled.push(i)))
  }
  const reads = Array.from({ length: 200 }, () => db.tryGet('k0'))
  const it = db.iterator()
  const firstEntry = it.next()
  const txDone = db.transaction(async (tx) => {
    await new Promise((resolve) => setTimeout(resolve, 20))
    await tx.put('tx', 'done') // db.transaction() is work in flight: close() waits for it
    assert.equal(await tx.get('tx'), 'done')
  })
  const explicit = db.begin()
  const closing = db.close()
  assert.equal(db.status, 'closing')
  await rejectsCode(db.put('late', 'x'), 'KAT_CLOSED')
  throwsCode(() => db.getSync('k0'), 'KAT_CLOSED')
  throwsCode(() => explicit.putSync('a', 'b'), 'KAT_CLOSED') // begin() is not: it fails
  await rejectsCode(db.transaction(async () => {}), 'KAT_CLOSED')
  await closing
  assert.equal(db.status, 'closed')
  assert.equal(settled.length, 2000, 'every put issued before close() completed first')
  await Promise.all(pending)
  for (const r of reads) assert.ok((await r) === undefined || (await r) === 'v0')
  assert.ok(Array.isArray(await firstEntry))
  await txDone
  const again = katamari.open(dir, { valueEncoding: 'utf8' })
  assert.equal(again.getSync('tx'), 'done')
  assert.equal(again.getSync('k1999'), 'v1999')
  await again.close()
})

test('100 open iterators, then global.gc(): finalizers free them', needGc, async () => {
  const db = katamari.open(dbdir(), { sync: 'never' })
  for (let i = 0; i < 500; i++) db.putSync('k' + i, 'v')
  ;(() => {
    const its = []
    for (let i = 0; i < 100; i++) its.push(db.iterator())
    // Half of them have fetched a batch; some have a fetch in flight when dropped.
    for (let i = 0; i < 50; i++) its[i].next()
  })()
  await settle()
  // Transactions and keyspaces left to the GC as well.
  ;(() => {
    for (let i = 0; i < 100; i++) {
      const tx = db.begin()
      tx.putSync('t' + i, 'x')
      db.keyspace('ks' + (i % 5)).putSync('k', 'v')
    }
  })()
  await settle()
  assert.equal(db.getSync('k1').toString(), 'v')
  assert.equal((await db.keys().all()).length, 500)
  await db.close()
})

test('a database left to the GC is closed by its finalizer', needGc, async () => {
  const dir = dbdir()
  ;(() => {
    const db = katamari.open(dir, { sync: 'never' })
    db.putSync('k', 'v')
    const it = db.iterator() // a child keeps its parent alive in native code
    it.next()
  })()
  let reopened = null
  for (let i = 0; i < 50 && reopened === null; i++) {
    await settle()
    try {
      reopened = katamari.open(dir)
    } catch (err) {
      assert.equal(err.code, 'KAT_LOCKED')
    }
  }
  assert.ok(reopened, 'the directory lock was released')
  assert.equal(reopened.getSync('k').toString(), 'v')
  await reopened.close()
})

test('closing with open transactions and iterators, then GC', needGc, async () => {
  const db = katamari.open(dbdir(), { sync: 'never' })
  db.putSync('a', '1')
  const tx = db.begin()
  tx.putSync('b', '2')
  const it = db.iterator()
  await db.close()
  throwsCode(() => tx.putSync('c', '3'), 'KAT_CLOSED')
  await rejectsCode(it.next(), 'KAT_CLOSED')
  await settle()
})

// Listeners are attached at once: a message or exit before them would be lost.
function runWorker (workerData) {
  const w = new Worker(path.join(__dirname, 'fixtures', 'worker.js'), { workerData })
  const failed = new Promise((resolve, reject) => w.once('error', reject))
  failed.catch(() => {})
  const message = new Promise((resolve) => w.once('message', resolve))
  const exit = new Promise((resolve) => w.once('exit', resolve))
  return {
    worker: w,
    message: Promise.race([message, failed]),
    exit: Promise.race([exit, failed])
  }
}

test('works in a worker thread', async () => {
  const dir = dbdir()
  const one = runWorker({ dir, mode: 'roundtrip' })
  assert.deepEqual(await one.message, { got: 'hello', entries: [['from-worker', 'hello'], ['sync', 'yes']], n: 2 })
  assert.equal(await one.exit, 0)
  // Several workers at once, each with its own database.
  const many = Array.from({ length: 4 }, () => runWorker({ dir: dbdir(), mode: 'roundtrip' }))
  for (const w of many) assert.equal((await w.message).got, 'hello')
  for (const w of many) assert.equal(await w.exit, 0)
  const db = katamari.open(dir, { valueEncoding: 'utf8' })
  assert.equal(db.getSync('from-worker'), 'hello')
  await db.close()
})

test('terminating a worker with work in flight does not abort the process', async () => {
  const dir = dbdir()
  for (let round = 0; round < 3; round++) {
    const w = runWorker({ dir, mode: 'busy' })
    assert.equal(await w.message, 'busy')
    await new Promise((resolve) => setTimeout(resolve, 20 * round))
    assert.equal(await w.worker.terminate(), 1)
    // The env cleanup hook closed the database: the lock is free again.
    const db = katamari.open(dir, { sync: 'never' })
    assert.ok(db.statsSync().liveKeys >= 1000)
    assert.equal(db.getSync('seed0001').toString(), 'x'.repeat(100))
    await db.close()
  }
})

test('a worker that ends without closing releases the directory', async () => {
  const dir = dbdir()
  const w = runWorker({ dir, mode: 'leave-open' })
  assert.equal(await w.message, 'done')
  assert.equal(await w.exit, 0)
  const db = katamari.open(dir, { sync: 'never' })
  assert.equal(db.getSync('left').toString(), 'open')
  assert.equal(db.getSync('async').toString(), 'pending')
  await db.close()
})
