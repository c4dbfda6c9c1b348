'use strict'
// abstract-level's own test suite (abstract-level/test, on tape) against KatamariLevel,
// run inside one node:test test that fails if any tape assertion fails. Also a few
// checks of the adapter itself.

const { test } = require('node:test')
const assert = require('node:assert/strict')
const tape = require('tape')
const suite = require('abstract-level/test')
const { KatamariLevel } = require('..')
const { dbdir } = require('./helpers')

// Tests of the suite that cannot pass, with the reason (none so far).
const KNOWN_FAILURES = new Map()

test('abstract-level test suite', { timeout: 600000 }, async (t) => {
  const harness = tape.createHarness()
  const failures = []
  let asserts = 0
  let current = ''
  const done = new Promise((resolve) => {
    harness.createStream({ objectMode: true })
      .on('data', (row) => {
        if (row.type === 'test') current = row.name
        if (row.type === 'assert') {
          asserts++
          if (!row.ok && !row.skip && !row.todo) failures.push(`${current}: ${row.name} ${row.error ? row.error.message || '' : ''}`)
        }
      })
      .on('end', resolve)
  })
  suite({
    test: harness,
    factory (options) {
      return new KatamariLevel(dbdir(), { sync: 'never', ...options })
    }
  })
  await done
  const unexpected = failures.filter((f) => ![...KNOWN_FAILURES.keys()].some((k) => f.startsWith(k)))
  t.diagnostic(`${asserts} assertions, ${failures.length} failed`)
  for (const f of failures) t.diagnostic(`failed: ${f}`)
  assert.deepEqual(unexpected, [])
  assert.ok(asserts > 1000, `the suite ran (${asserts} assertions)`)
})

test('KatamariLevel: Level semantics and the Katamari database behind it', async () => {
  const db = new KatamariLevel(dbdir(), { valueEncoding: 'json', sync: 'never' })
  await db.open()
  await db.put('a', { x: 1 })
  assert.deepEqual(await db.get('a'), { x: 1 })
  assert.equal(await db.get('missing'), undefined, 'Level: a missing key is undefined')
  assert.deepEqual(db.getSync('a'), { x: 1 })
  assert.ok(db.katamari, 'the Katamari DB')
  assert.equal(db.katamari.getSync('a').toString(), '{"x":1}')
  const sub = db.sublevel('s', { valueEncoding: 'utf8' })
  await sub.put('k', 'v')
  assert.deepEqual(await sub.iterator().all(), [['k', 'v']])
  const snap = db.snapshot()
  await db.put('a', 2)
  assert.deepEqual(await db.get('a', { snapshot: snap }), { x: 1 })
  assert.deepEqual(await db.iterator({ snapshot: snap, gte: 'a', lt: 'b' }).all(), [['a', { x: 1 }]])
  await snap.close()
  await db.close()
  assert.equal(db.katamari, null)
  assert.throws(() => new KatamariLevel(''), TypeError)
})
