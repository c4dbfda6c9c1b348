'use strict'
// Merge, backup, verify and the autoMerge option: a merge keeps every value and
// shrinks the data; a backup opens at the commit point it reports; verify reports a
// flipped byte without changing the file; close() stops a merge in flight.

const { test } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const katamari = require('..')
const { dbdir, tmpdir, throwsCode, rejectsCode } = require('./helpers')

const key = (i) => 'key-' + String(i).padStart(4, '0')
const value = (i, round) => `value-${i}-${round}-padding-padding`

// Writes n keys `rounds` times over, then deletes every third key.
function churn (db, n, rounds) {
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < n; i++) db.putSync(key(i), value(i, round))
  }
  for (let i = 0; i < n; i += 3) db.deleteSync(key(i))
}

// Checks what churn left: the last round's values, every third key gone.
function checkChurned (db, n, rounds) {
  for (let i = 0; i < n; i++) {
    if (i % 3 === 0) assert.equal(db.tryGetSync(key(i)), undefined, key(i))
    else assert.equal(db.getSync(key(i)), value(i, rounds - 1), key(i))
  }
}

const MERGE_FIELDS = ['inputSegments', 'inputBytes', 'outputSegments', 'outputBytes', 'records', 'expired', 'millis']

test('merge keeps every value and shrinks the data', async () => {
  const dir = dbdir()
  const opts = { sync: 'never', segmentSize: 16 << 10, autoMerge: false, valueEncoding: 'utf8' }
  let db = katamari.open(dir, opts)
  churn(db, 500, 5)
  const before = db.statsSync()
  assert.equal(before.merges, 0)
  assert.equal(before.mergeFailures, 0)

  const m = await db.merge()
  assert.deepEqual(Object.keys(m).sort(), [...MERGE_FIELDS].sort())
  for (const f of MERGE_FIELDS) assert.equal(typeof m[f], 'number', f)
  assert.ok(m.inputSegments > 1, JSON.stringify(m))
  assert.ok(m.outputSegments >= 1, JSON.stringify(m))
  assert.ok(m.outputBytes < m.inputBytes / 3, JSON.stringify(m))
  assert.equal(m.records, 500 - 167)
  assert.equal(m.expired, 0)
  checkChurned(db, 500, 5)
  const after = await db.stats()
  assert.ok(after.totalBytes < before.totalBytes / 2, `${before.totalBytes} -> ${after.totalBytes}`)
  assert.equal(after.liveKeys, 500 - 167)
  assert.equal(after.merges, 1)
  assert.equal(after.mergeFailures, 0)

  // The sync form; nothing left to reclaim, and it still works.
  const m2 = db.mergeSync()
  assert.equal(m2.records, 500 - 167)
  assert.equal(db.statsSync().merges, 2)
  await db.close()

  db = katamari.open(dir, opts)
  checkChurned(db, 500, 5)
  await db.close()
})

test('merge runs on the pool while reads and writes go on', async () => {
  const db = katamari.open(dbdir(), { sync: 'never', segmentSize: 16 << 10, autoMerge: false, valueEncoding: 'utf8' })
  churn(db, 300, 3)
  const merging = db.merge()
  const ops = []
  for (let i = 0; i < 500; i++) {
    ops.push(db.put('w' + i, 'x' + i))
    ops.push(db.get(key(1)).then((v) => assert.equal(v, value(1, 2))))
  }
  await Promise.all(ops)
  const m = await merging
  assert.ok(m.records >= 200, JSON.stringify(m))
  await db.merge()
  checkChurned(db, 300, 3)
  for (let i = 0; i < 500; i++) assert.equal(db.getSync('w' + i), 'x' + i)
  assert.equal((await db.verify()).clean, true)
  await db.close()
})

test('backup opens at the commit point it reports; an existing destination is refused', async () => {
  const root = tmpdir()
  const dest = path.join(root, 'backup')
  const db = katamari.open(dbdir(), { sync: 'never', segmentSize: 16 << 10, autoMerge: false, valueEncoding: 'utf8' })
  churn(db, 500, 3)
  await db.merge()
  db.putSync('before-backup', 'x')
  const st = db.statsSync()
  const info = await db.backup(dest)
  assert.deepEqual(Object.keys(info).sort(), ['bytes', 'linked', 'segments', 'seq'])
  assert.equal(info.seq, st.lastSeq)
  assert.ok(info.segments >= 2, JSON.stringify(info))
  assert.ok(info.bytes > 0)
  assert.ok(info.linked <= info.segments)
  // Writes after the backup do not reach the copy.
  db.putSync('after-backup', 'x')
  db.putSync(key(1), 'changed after the backup')

  await rejectsCode(db.backup(dest), 'KAT_INVALID_ARGUMENT') // dest exists
  throwsCode(() => db.backupSync(dest), 'KAT_INVALID_ARGUMENT')
  await rejectsCode(db.backup(''), 'KAT_INVALID_ARGUMENT')
  await rejectsCode(db.backup(path.join(root, 'a\0b')), 'KAT_INVALID_ARGUMENT')
  await rejectsCode(db.backup(42), 'KAT_INVALID_ARGUMENT')
  await rejectsCode(db.backup(), 'KAT_INVALID_ARGUMENT')
  await assert.rejects(db.backup(path.join(root, 'no', 'parent')), (err) => {
    assert.equal(typeof err.code, 'string')
    assert.notEqual(err.code, 'KAT_OK')
    return true
  })

  const copy = katamari.open(dest, { createIfMissing: false, valueEncoding: 'utf8' })
  checkChurned(copy, 500, 3)
  assert.equal(copy.getSync('before-backup'), 'x')
  assert.equal(copy.tryGetSync('after-backup'), undefined)
  const cst = copy.statsSync()
  assert.equal(cst.lastSeq, info.seq)
  assert.equal(cst.liveKeys, 500 - 167 + 1)
  assert.equal(copy.verifySync().clean, true)
  await copy.close()
  assert.equal(db.getSync(key(1)), 'changed after the backup', 'the source is unchanged')

  // The sync form.
  const dest2 = path.join(root, 'backup2')
  const info2 = db.backupSync(dest2)
  assert.equal(info2.seq, db.statsSync().lastSeq)
  const copy2 = katamari.open(dest2, { createIfMissing: false, valueEncoding: 'utf8' })
  assert.equal(copy2.getSync('after-backup'), 'x')
  await copy2.close()
  await db.close()
})

test('verify is clean, then reports a flipped byte in a merged segment without changing it', async () => {
  const dir = dbdir()
  const opts = { sync: 'never', segmentSize: 8 << 10, autoMerge: false }
  let db = katamari.open(dir, opts)
  const val = (i, round) => value(i, round) + 'x'.repeat(80)
  for (let i = 0; i < 300; i++) db.putSync(key(i), val(i, 0))
  await db.merge()
  for (let i = 0; i < 100; i++) db.putSync(key(i), val(i, 1))
  const r = await db.verify()
  assert.deepEqual(Object.keys(r).sort(), ['batches', 'bytes', 'clean', 'damaged', 'firstBadOffset',
    'firstBadReason', 'firstBadSegment', 'hintsBad', 'hintsOk', 'records', 'segments'])
  assert.equal(r.clean, true)
  assert.equal(r.records, 400)
  assert.ok(r.hintsOk >= 1)
  assert.equal(r.hintsBad, 0)
  assert.equal(r.damaged, 0)
  assert.ok(r.segments >= 2 && r.batches > 0 && r.bytes > 0, JSON.stringify(r))
  assert.equal(r.firstBadSegment, 0)
  assert.equal(r.firstBadOffset, 0)
  assert.equal(r.firstBadReason, '')
  assert.deepEqual(db.verifySync(), r)
  await db.close()

  // Damage a value in the middle of a merged segment (header byte 12 is the segment
  // kind; 2 is merged). Open still works through the hint file.
  const seg = fs.readdirSync(dir).filter((f) => f.endsWith('.kseg')).sort()
    .map((f) => path.join(dir, f))
    .find((p) => fs.readFileSync(p)[12] === 2)
  assert.ok(seg, 'a merged segment (header kind 2)')
  const bytes = fs.readFileSync(seg)
  const at = Math.floor(bytes.length / 2)
  bytes[at] ^= 0x20
  fs.writeFileSync(seg, bytes)
  db = katamari.open(dir, opts)
  const bad = await db.verify()
  assert.equal(bad.clean, false)
  assert.equal(bad.damaged, 1, JSON.stringify(bad))
  assert.ok(path.basename(seg).includes(String(bad.firstBadSegment).padStart(10, '0')),
    `${path.basename(seg)} vs ${JSON.stringify(bad)}`)
  assert.ok(bad.firstBadOffset <= at, JSON.stringify(bad))
  assert.equal(typeof bad.firstBadReason, 'string')
  assert.ok(bad.firstBadReason.length > 0)
  assert.ok(bad.records < 400, 'the damaged batch is not counted')
  assert.deepEqual(db.verifySync(), bad)
  assert.ok(fs.readFileSync(seg).equals(bytes), 'verify changed nothing')
  await db.close()
})

test('autoMerge: invalid policies fail open, a low threshold merges in the background, false turns it off', async () => {
  const root = tmpdir()
  const bad = path.join(root, 'bad')
  for (const deadRatio of [1.5, -0.1, NaN, Infinity, -Infinity]) {
    throwsCode(() => katamari.open(bad, { autoMerge: { deadRatio, minDeadBytes: 0 } }), 'KAT_INVALID_ARGUMENT')
    await rejectsCode(katamari.openAsync(bad, { autoMerge: { deadRatio, minDeadBytes: 0 } }), 'KAT_INVALID_ARGUMENT')
  }
  for (const autoMerge of [true, 'off', 0.5, { deadRatio: '0.5', minDeadBytes: 0 }, { deadRatio: 0.5 },
    { deadRatio: 0.5, minDeadBytes: -1 }, { deadRatio: 0.5, minDeadBytes: 1.5 }]) {
    throwsCode(() => katamari.open(bad, { autoMerge }), 'KAT_INVALID_ARGUMENT')
  }
  assert.equal(fs.existsSync(bad), false, 'a failed open created the directory')
  for (const autoMerge of [undefined, null, false, { deadRatio: 0, minDeadBytes: 0 },
    { deadRatio: 1, minDeadBytes: 0 }, { deadRatio: 0.5, minDeadBytes: 64 << 20 }]) {
    const db = katamari.open(path.join(root, 'ok'), { autoMerge })
    await db.close()
  }

  const write = (db) => {
    for (let round = 0; round < 30; round++) {
      for (let i = 0; i < 200; i++) db.putSync(key(i), value(i, round) + 'x'.repeat(80))
    }
  }
  // Thirty copies of every key cross the threshold several times over.
  const on = katamari.open(dbdir(), { sync: 'never', segmentSize: 16 << 10, autoMerge: { deadRatio: 0.5, minDeadBytes: 64 << 10 }, valueEncoding: 'utf8' })
  write(on)
  const deadline = Date.now() + 60000
  let st = on.statsSync()
  while (st.merges === 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 10))
    st = on.statsSync()
  }
  assert.ok(st.merges > 0, 'no automatic merge: ' + JSON.stringify(st))
  assert.equal(st.mergeFailures, 0)
  for (let i = 0; i < 200; i++) assert.equal(on.getSync(key(i)), value(i, 29) + 'x'.repeat(80))
  await on.close()

  const off = katamari.open(dbdir(), { sync: 'never', segmentSize: 16 << 10, autoMerge: false })
  write(off)
  await new Promise((resolve) => setTimeout(resolve, 100))
  assert.equal(off.statsSync().merges, 0)
  await off.close()
})

test('close() stops a merge in flight and waits for backup and verify', async () => {
  for (let round = 0; round < 3; round++) {
    const dir = dbdir()
    const opts = { sync: 'never', segmentSize: 64 << 10, autoMerge: false, valueEncoding: 'utf8' }
    let db = katamari.open(dir, opts)
    const pad = 'y'.repeat(100)
    for (let rr = 0; rr < 3; rr++) {
      for (let i = 0; i < 20000; i += 1000) {
        const ops = []
        for (let j = i; j < i + 1000; j++) ops.push({ type: 'put', key: key(j), value: value(j, rr) + pad })
        db.batchSync(ops)
      }
    }
    const merging = db.merge().then(() => 'merged', (err) => err.code)
    await new Promise((resolve) => setTimeout(resolve, round * 2))
    await db.close()
    const outcome = await merging
    assert.ok(outcome === 'merged' || outcome === 'KAT_CLOSED', `merge ended with ${outcome}`)
    assert.equal(db.status, 'closed')
    await rejectsCode(db.merge(), 'KAT_CLOSED')

    db = katamari.open(dir, opts)
    for (const i of [0, 1, 9999, 19999]) assert.equal(db.getSync(key(i)), value(i, 2) + pad)
    assert.equal(db.statsSync().liveKeys, 20000)
    assert.equal(db.verifySync().clean, true)

    // Backup and verify in flight are waited for, not stopped.
    const dest = path.join(tmpdir(), 'backup')
    const backingUp = db.backup(dest)
    const verifying = db.verify()
    await db.close()
    const info = await backingUp
    assert.equal((await verifying).clean, true)
    const copy = katamari.open(dest, opts)
    assert.equal(copy.statsSync().lastSeq, info.seq)
    assert.equal(copy.getSync(key(19999)), value(19999, 2) + pad)
    await copy.close()
  }
})

test('merge, backup and verify after close fail with KAT_CLOSED', async () => {
  const db = katamari.open(dbdir(), { sync: 'never' })
  await db.close()
  await rejectsCode(db.merge(), 'KAT_CLOSED')
  await rejectsCode(db.backup(path.join(tmpdir(), 'b')), 'KAT_CLOSED')
  await rejectsCode(db.verify(), 'KAT_CLOSED')
  throwsCode(() => db.mergeSync(), 'KAT_CLOSED')
  throwsCode(() => db.backupSync(path.join(tmpdir(), 'b')), 'KAT_CLOSED')
  throwsCode(() => db.verifySync(), 'KAT_CLOSED')

  // Below the JavaScript checks: the library's own KAT_CLOSED, and handle type checks.
  const binding = require('../build/Release/katamari.node')
  const h = binding.open(dbdir(), 2, 0, null, false, true, 0, 0)
  const ks = binding.keyspaceOpen(h, 'x')
  await binding.close(h)
  await rejectsCode(binding.merge(h), 'KAT_CLOSED')
  await rejectsCode(binding.backup(h, path.join(tmpdir(), 'b')), 'KAT_CLOSED')
  await rejectsCode(binding.verify(h), 'KAT_CLOSED')
  throwsCode(() => binding.mergeSync(h), 'KAT_CLOSED')
  throwsCode(() => binding.backupSync(h, path.join(tmpdir(), 'b')), 'KAT_CLOSED')
  throwsCode(() => binding.verifySync(h), 'KAT_CLOSED')
  throwsCode(() => binding.merge(ks), 'KAT_INVALID_ARGUMENT')
  throwsCode(() => binding.backup(ks, 'x'), 'KAT_INVALID_ARGUMENT')
  throwsCode(() => binding.verifySync({}), 'KAT_INVALID_ARGUMENT')
})
