'use strict'
// Keyspaces: the same calls as a database, isolation, batches across keyspaces, list, drop.

const { test } = require('node:test')
const assert = require('node:assert/strict')
const katamari = require('..')
const { dbdir, throwsCode, rejectsCode } = require('./helpers')

test('keyspace calls and isolation from the default keyspace', async () => {
  const dir = dbdir()
  const db = katamari.open(dir, { sync: 'never', keyEncoding: 'utf8', valueEncoding: 'utf8' })
  const a = db.keyspace('a')
  const bks = db.keyspace(Buffer.from('b'), { valueEncoding: 'json' })
  assert.ok(a instanceof katamari.Keyspace)
  assert.equal(a.name, 'a')
  assert.equal(bks.name, 'b')
  assert.equal(a.db, db)
  assert.equal(a.valueEncoding, 'utf8', 'inherits the database encodings')
  assert.equal(bks.valueEncoding, 'json')
  await a.put('k', 'in a')
  bks.putSync('k', { in: 'b' })
  db.putSync('k', 'default')
  assert.equal(await a.get('k'), 'in a')
  assert.deepEqual(bks.getSync('k'), { in: 'b' })
  assert.equal(db.getSync('k'), 'default')
  assert.equal(await a.has('k'), true)
  assert.equal(a.hasSync('zz'), false)
  await rejectsCode(a.get('zz'), 'KAT_NOT_FOUND')
  throwsCode(() => a.getSync('zz'), 'KAT_NOT_FOUND')
  assert.equal(await a.tryGet('zz'), undefined)
  assert.equal(a.tryGetSync('zz'), undefined)
  assert.deepEqual(await a.getMany(['k', 'zz']), ['in a', undefined])
  assert.deepEqual(a.getManySync(['k']), ['in a'])
  await a.putTTL('t', 'x', 300)
  a.putTTLSync('t2', 'x', 300)
  assert.equal(a.hasSync('t'), true)
  await new Promise((resolve) => setTimeout(resolve, 400))
  assert.equal(a.hasSync('t'), false)
  assert.equal(a.hasSync('t2'), false)
  await a.delete('k')
  a.putSync('k2', '2')
  a.deleteSync('k2')
  assert.equal(a.hasSync('k'), false)
  assert.equal(db.getSync('k'), 'default')

  // Batches: a keyspace's batch goes to it; ops may name other keyspaces.
  await a.batch([{ type: 'put', key: 'x', value: '1' }, { type: 'put', key: 'y', value: '2', keyspace: bks }])
  assert.equal(a.getSync('x'), '1')
  assert.equal(bks.getSync('y'), '2', 'encoded with the keyspace value encoding (json)')
  db.batchSync([{ type: 'del', key: 'x', keyspace: a }, { type: 'put', key: 'x', value: 'def' }])
  assert.equal(a.hasSync('x'), false)
  assert.equal(db.getSync('x'), 'def')
  await a.batch().put('c1', '1').put('c2', '2').write()
  a.batchSync([{ type: 'put', key: 'c3', value: '3' }])
  await rejectsCode(db.batch([{ type: 'put', key: 'x', value: '1', keyspace: a, ttl: 0 }]), 'KAT_INVALID_ARGUMENT')
  await rejectsCode(db.batch([{ type: 'put', key: 'x', value: '1', keyspace: 'a' }]), 'KAT_INVALID_ARGUMENT')

  // Iterators stay inside the keyspace.
  assert.deepEqual(await a.keys().all(), ['c1', 'c2', 'c3'])
  assert.deepEqual(await a.values({ reverse: true, limit: 1 }).all(), ['3'])
  assert.deepEqual(await a.iterator({ gt: 'c1' }).all(), [['c2', '2'], ['c3', '3']])
  assert.deepEqual(await db.keys().all(), ['k', 'x'])

  // Two handles of one keyspace see the same data.
  assert.equal(db.keyspace('a').getSync('c1'), '1')

  assert.deepEqual(await db.keyspaces(), ['a', 'b'])
  assert.deepEqual(db.keyspacesSync(), ['a', 'b'])
  await db.close()

  // Keyspaces persist.
  const again = katamari.open(dir, { keyEncoding: 'utf8', valueEncoding: 'utf8' })
  assert.deepEqual(again.keyspacesSync(), ['a', 'b'])
  assert.equal(again.keyspace('a').getSync('c2'), '2')
  await again.close()
})

test('dropKeyspace, and bad names', async () => {
  const db = katamari.open(dbdir(), { sync: 'never' })
  const gone = db.keyspace('gone')
  gone.putSync('k', 'v')
  db.keyspace('kept').putSync('k', 'v')
  await db.dropKeyspace('gone')
  assert.deepEqual(db.keyspacesSync(), ['kept'])
  await rejectsCode(db.dropKeyspace('gone'), 'KAT_NOT_FOUND')
  throwsCode(() => db.dropKeyspaceSync('gone'), 'KAT_NOT_FOUND')
  // A handle of a dropped keyspace: the library answers KAT_INVALID_ARGUMENT.
  throwsCode(() => gone.getSync('k'), 'KAT_INVALID_ARGUMENT')
  await rejectsCode(gone.put('k', 'v'), 'KAT_INVALID_ARGUMENT')
  // Recreated by name, it is empty.
  assert.equal(db.keyspace('gone').hasSync('k'), false)
  db.dropKeyspaceSync('gone')
  throwsCode(() => db.keyspace(''), 'KAT_INVALID_ARGUMENT')
  throwsCode(() => db.keyspace('x'.repeat(256)), 'KAT_INVALID_ARGUMENT')
  throwsCode(() => db.keyspace('\0reserved'), 'KAT_INVALID_ARGUMENT')
  throwsCode(() => db.keyspace(17), 'KAT_INVALID_ARGUMENT')
  await rejectsCode(db.dropKeyspace(17), 'KAT_INVALID_ARGUMENT')
  db.keyspace('x'.repeat(255)).putSync('k', 'v')
  assert.deepEqual(await db.keyspaces(), ['kept', 'x'.repeat(255)])
  await db.close()
})

test('TTL puts in a keyspace batch', async () => {
  const db = katamari.open(dbdir(), { sync: 'never', keyEncoding: 'utf8', valueEncoding: 'utf8' })
  const a = db.keyspace('a')
  // Array form, async and sync, from the database and from the keyspace.
  await db.batch([{ type: 'put', key: 'long', value: 'L', keyspace: a, ttl: 60000 }])
  db.batchSync([{ type: 'put', key: 'longSync', value: 'LS', keyspace: a, ttl: 60000 }])
  await a.batch([{ type: 'put', key: 'own', value: 'O', ttl: 60000 }])
  // Chained form.
  await db.batch().put('chained', 'C', { keyspace: a, ttl: 60000 }).write()
  await a.batch().put('chained2', 'C2', { ttl: 60000 }).write()
  assert.equal(a.getSync('long'), 'L')
  assert.equal(await a.get('longSync'), 'LS')
  assert.equal(a.getSync('own'), 'O')
  assert.equal(a.getSync('chained'), 'C')
  assert.equal(a.getSync('chained2'), 'C2')
  assert.equal(db.hasSync('long'), false, 'went to the keyspace, not the default one')
  assert.equal(db.hasSync('chained'), false)

  // With a 1 ms TTL the keys disappear after a short wait.
  await db.batch([
    { type: 'put', key: 'short', value: 's', keyspace: a, ttl: 1 },
    { type: 'put', key: 'plain', value: 'p', keyspace: a }
  ])
  db.batchSync([{ type: 'put', key: 'shortSync', value: 's', keyspace: a, ttl: 1 }])
  await a.batch().put('shortChained', 's', { ttl: 1 }).write()
  await new Promise((resolve) => setTimeout(resolve, 50))
  assert.equal(a.hasSync('short'), false)
  assert.equal(await a.has('shortSync'), false)
  assert.equal(a.hasSync('shortChained'), false)
  assert.equal(await a.tryGet('short'), undefined)
  assert.equal(a.getSync('plain'), 'p', 'a put without ttl stays')
  assert.equal(a.getSync('long'), 'L', 'a long ttl has not expired')
  throwsCode(() => db.batchSync([{ type: 'put', key: 'x', value: '1', keyspace: a, ttl: 1.5 }]), 'KAT_INVALID_ARGUMENT')
  await db.close()
})
