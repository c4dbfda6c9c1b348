'use strict'
// Transactions: db.transaction() (commit, abort, retry), explicit begin(), read-only,
// serializable, keyspace views, iterators over a transaction's view.

const { test } = require('node:test')
const assert = require('node:assert/strict')
const katamari = require('..')
const { dbdir, throwsCode, rejectsCode } = require('./helpers')

function openDb () {
  return katamari.open(dbdir(), { sync: 'never', keyEncoding: 'utf8', valueEncoding: 'utf8' })
}

test('transaction(): commits on resolve, resolves what fn resolved', async () => {
  const db = openDb()
  db.putSync('n', '1')
  const out = await db.transaction(async (tx) => {
    assert.ok(tx instanceof katamari.Transaction)
    const n = Number(await tx.get('n'))
    await tx.put('n', String(n + 1))
    assert.equal(await tx.get('n'), '2', 'reads its own writes')
    assert.equal(db.getSync('n'), '1', 'invisible outside before commit')
    return n
  })
  assert.equal(out, 1)
  assert.equal(db.getSync('n'), '2')
  assert.equal(await db.transaction((tx) => tx.getSync('n')), '2', 'a plain function works too')
  await db.close()
})

test('transaction(): aborts when fn throws', async () => {
  const db = openDb()
  await assert.rejects(db.transaction(async (tx) => {
    await tx.put('a', '1')
    throw new Error('boom')
  }), /boom/)
  assert.equal(db.hasSync('a'), false)
  await rejectsCode(db.transaction('nope'), 'KAT_INVALID_ARGUMENT')
  await rejectsCode(db.transaction(() => {}, { retries: -1 }), 'KAT_INVALID_ARGUMENT')
  await db.close()
})

test('transaction(): KAT_CONFLICT, and retries', async () => {
  const db = openDb()
  db.putSync('x', '0')
  // Without retries a conflict rejects.
  await rejectsCode(db.transaction(async (tx) => {
    await tx.get('x')
    db.putSync('x', 'outside') // commits after tx's snapshot
    await tx.put('x', 'inside')
  }), 'KAT_CONFLICT')
  assert.equal(db.getSync('x'), 'outside')

  // With retries, fn runs again in a fresh transaction.
  let runs = 0
  const out = await db.transaction(async (tx) => {
    runs++
    const v = await tx.get('x')
    if (runs < 3) db.putSync('x', 'interfere' + runs)
    await tx.put('x', v + '+')
    return runs
  }, { retries: 5 })
  assert.equal(out, 3)
  assert.equal(db.getSync('x'), 'interfere2+')

  // Retries run out.
  let tries = 0
  await rejectsCode(db.transaction(async (tx) => {
    tries++
    db.putSync('x', 'again' + tries)
    tx.putSync('x', 'mine')
  }, { retries: 2 }), 'KAT_CONFLICT')
  assert.equal(tries, 3)

  // Many concurrent increments with retries all land.
  db.putSync('counter', '0')
  await Promise.all(Array.from({ length: 50 }, () => db.transaction(async (tx) => {
    const v = Number(await tx.get('counter'))
    await new Promise((resolve) => setImmediate(resolve))
    await tx.put('counter', String(v + 1))
  }, { retries: 1000 })))
  assert.equal(db.getSync('counter'), '50')
  await db.close()
})

test('transaction(): fn may commit or abort itself', async () => {
  const db = openDb()
  await db.transaction(async (tx) => {
    await tx.put('a', '1')
    await tx.commit()
    assert.equal(tx.status, 'committed')
  })
  assert.equal(db.getSync('a'), '1')
  await db.transaction(async (tx) => {
    await tx.put('b', '1')
    await tx.abort()
    assert.equal(tx.status, 'aborted')
  })
  assert.equal(db.hasSync('b'), false)
  await db.close()
})

test('begin(): explicit commit / abort, sync forms, every call', async () => {
  const db = openDb()
  db.putSync('keep', 'k')
  const tx = db.begin()
  assert.equal(tx.status, 'open')
  assert.equal(tx.readOnly, false)
  assert.equal(tx.serializable, false)
  tx.putSync('a', '1')
  await tx.put('b', '2')
  tx.putTTLSync('t1', 'x', 60000)
  await tx.putTTL('t2', 'y', 60000)
  tx.deleteSync('keep')
  await tx.delete('nothing')
  tx.delSync('nothing')
  await tx.del('nothing')
  assert.equal(tx.getSync('a'), '1')
  assert.equal(await tx.get('b'), '2')
  assert.equal(tx.tryGetSync('keep'), undefined)
  assert.equal(await tx.tryGet('keep'), undefined)
  throwsCode(() => tx.getSync('keep'), 'KAT_NOT_FOUND')
  await rejectsCode(tx.get('keep'), 'KAT_NOT_FOUND')
  assert.equal(tx.hasSync('a'), true)
  assert.equal(await tx.has('keep'), false)
  assert.deepEqual(await tx.keys().all(), ['a', 'b', 't1', 't2'])
  assert.deepEqual(await tx.values({ lt: 'b' }).all(), ['1'])
  assert.deepEqual(await tx.iterator({ reverse: true, limit: 1 }).all(), [['t2', 'y']])
  assert.equal(db.getSync('keep'), 'k')
  await tx.commit()
  assert.equal(tx.status, 'committed')
  assert.deepEqual(await db.keys().all(), ['a', 'b', 't1', 't2'])
  // After the end, calls fail with the library's status.
  throwsCode(() => tx.putSync('c', '3'), 'KAT_INVALID_ARGUMENT')
  await rejectsCode(tx.get('a'), 'KAT_INVALID_ARGUMENT')
  throwsCode(() => tx.commitSync(), 'KAT_INVALID_ARGUMENT')

  const tx2 = db.begin()
  tx2.putSync('z', '1')
  tx2.abortSync()
  assert.equal(tx2.status, 'aborted')
  tx2.abortSync() // aborting an ended transaction is fine
  assert.equal(db.hasSync('z'), false)

  const tx3 = db.begin()
  tx3.putSync('s', '1')
  tx3.commitSync()
  assert.equal(db.getSync('s'), '1')

  const tx4 = db.begin()
  throwsCode(() => tx4.putSync(Buffer.alloc(70000), '1'), 'KAT_TOO_LARGE')
  throwsCode(() => tx4.putTTLSync('a', '1', 0), 'KAT_INVALID_ARGUMENT')
  throwsCode(() => tx4.putSync(null, '1'), 'KAT_INVALID_ARGUMENT')
  await tx4.abort()
  await db.close()
})

test('read-only transactions: writes fail with KAT_READ_ONLY', async () => {
  const db = openDb()
  db.putSync('a', '1')
  const tx = db.begin({ readOnly: true })
  assert.equal(tx.readOnly, true)
  assert.equal(await tx.get('a'), '1')
  throwsCode(() => tx.putSync('a', '2'), 'KAT_READ_ONLY')
  await rejectsCode(tx.put('a', '2'), 'KAT_READ_ONLY')
  await rejectsCode(tx.delete('a'), 'KAT_READ_ONLY')
  await rejectsCode(tx.putTTL('a', '2', 10), 'KAT_READ_ONLY')
  await tx.commit()
  await rejectsCode(db.transaction((t) => t.put('b', '1'), { readOnly: true }), 'KAT_READ_ONLY')
  assert.equal(db.hasSync('b'), false)
  await db.close()
})

test('snapshot vs serializable', async () => {
  const db = openDb()
  // Snapshot isolation: a read of a key written since does not conflict.
  const snap = db.begin()
  snap.tryGetSync('r')
  db.putSync('r', 'w')
  snap.putSync('other', '1')
  await snap.commit()
  // Serializable: it does.
  const ser = db.begin({ serializable: true })
  assert.equal(ser.serializable, true)
  ser.tryGetSync('r2')
  db.putSync('r2', 'w')
  ser.putSync('other2', '1')
  await rejectsCode(ser.commit(), 'KAT_CONFLICT')
  assert.equal(ser.status, 'aborted')
  assert.equal(db.hasSync('other2'), false)
  // A snapshot sees nothing committed after it began.
  const view = db.begin({ readOnly: true })
  db.putSync('late', '1')
  assert.equal(await view.has('late'), false)
  await view.abort()
  await db.close()
})

test('transactions across keyspaces', async () => {
  const db = openDb()
  const users = db.keyspace('users', { valueEncoding: 'json' })
  await db.transaction(async (tx) => {
    const u = tx.keyspace(users)
    await u.put('ada', { born: 1815 })
    tx.putSync('count', '1')
    assert.deepEqual(await u.get('ada'), { born: 1815 })
    assert.deepEqual(u.getSync('ada'), { born: 1815 })
    assert.equal(await u.has('ada'), true)
    assert.equal(u.hasSync('nobody'), false)
    assert.equal(await u.tryGet('nobody'), undefined)
    assert.equal(u.tryGetSync('nobody'), undefined)
    await rejectsCode(u.get('nobody'), 'KAT_NOT_FOUND')
    assert.deepEqual(await u.iterator().all(), [['ada', { born: 1815 }]])
    assert.deepEqual(await tx.keyspace('users').keys().all(), ['ada'], 'by name')
    await rejectsCode(u.putTTL('x', 1, 0), 'KAT_INVALID_ARGUMENT')
    u.putSync('tmp', 1)
    await u.delete('tmp')
    u.delSync('tmp')
  })
  assert.deepEqual(users.getSync('ada'), { born: 1815 })
  assert.equal(db.getSync('count'), '1')
  assert.equal(users.hasSync('tmp'), false)
  const tx = db.begin()
  throwsCode(() => tx.keyspace(42), 'KAT_INVALID_ARGUMENT')
  const other = katamari.open(dbdir(), { sync: 'never' })
  throwsCode(() => tx.keyspace(other.keyspace('users')), 'KAT_INVALID_ARGUMENT')
  tx.abortSync()
  await other.close()
  await db.close()
})

test('keyspace view: putTTL, and has() sees own writes, deletes and the snapshot', async () => {
  const db = openDb()
  const ks = db.keyspace('k')
  ks.putSync('old', '1')
  ks.putSync('gone', '1')
  db.putSync('dflt', '1')

  const tx = db.begin()
  const v = tx.keyspace(ks)
  // Snapshot data.
  assert.equal(await v.has('old'), true)
  assert.equal(v.hasSync('old'), true)
  assert.equal(v.hasSync('nothing'), false)
  assert.equal(await v.has('dflt'), false, 'the default keyspace is not the view')
  // Commits after begin are not in the snapshot.
  ks.putSync('late', '1')
  ks.deleteSync('gone')
  assert.equal(await v.has('late'), false)
  assert.equal(v.hasSync('gone'), true, 'deleted outside after begin: still in the snapshot')
  // Own writes and deletes.
  await v.put('mine', 'm')
  assert.equal(await v.has('mine'), true)
  assert.equal(v.hasSync('mine'), true)
  v.deleteSync('old')
  assert.equal(await v.has('old'), false)
  assert.equal(v.hasSync('old'), false)
  v.putSync('old', 'again')
  assert.equal(v.hasSync('old'), true)
  await v.delete('mine')
  assert.equal(v.hasSync('mine'), false)
  // TTL puts in the view: visible in the transaction, then after commit.
  await v.putTTL('t', 'T', 60000)
  v.putTTLSync('tSync', 'TS', 60000)
  v.putTTLSync('short', 's', 1)
  await v.putTTL('shortAsync', 's', 1)
  assert.equal(await v.has('t'), true)
  assert.equal(v.getSync('tSync'), 'TS')
  assert.equal(tx.hasSync('t'), false, 'not in the default keyspace')
  assert.equal(ks.hasSync('t'), false, 'invisible outside before commit')
  throwsCode(() => v.putTTLSync('x', '1', 0), 'KAT_INVALID_ARGUMENT')
  await tx.commit()
  assert.equal(ks.getSync('t'), 'T')
  assert.equal(await ks.get('tSync'), 'TS')
  assert.equal(db.hasSync('t'), false)
  assert.equal(ks.getSync('old'), 'again')
  assert.equal(ks.hasSync('mine'), false)
  // The 1 ms TTLs expire after a short wait; the long ones stay.
  await new Promise((resolve) => setTimeout(resolve, 50))
  assert.equal(ks.hasSync('short'), false)
  assert.equal(await ks.has('shortAsync'), false)
  assert.equal(ks.hasSync('t'), true)

  // Through db.transaction() too, and has() in a later transaction's view.
  await db.transaction(async (t2) => {
    const w = t2.keyspace('k')
    await w.putTTL('viaFn', 'F', 60000)
    assert.equal(await w.has('viaFn'), true)
    assert.equal(await w.has('short'), false, 'expired keys are absent from the snapshot')
    assert.equal(w.hasSync('t'), true)
  })
  assert.equal(ks.getSync('viaFn'), 'F')
  await db.close()
})
