'use strict'
// The command-line tools: the round-trip writer/reader (tests/vectors/dataset.json),
// the vector runner, and the demo.

const { test } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { execFileSync, spawnSync } = require('node:child_process')
const katamari = require('..')
const { tmpdir } = require('./helpers')

const root = path.join(__dirname, '..')
const DATASET = path.join(root, '..', '..', 'tests', 'vectors', 'dataset.json')
const run = (args) => spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8' })

test('roundtrip.js: write, then read back', { skip: !fs.existsSync(DATASET) && `${DATASET} does not exist yet` }, async () => {
  const dir = path.join(tmpdir(), 'rt')
  const w = run(['tools/roundtrip.js', 'write', dir])
  assert.equal(w.status, 0, w.stderr)
  assert.match(w.stdout, /node writer: wrote \d+ entries in \d+ keyspaces/)
  const r = run(['tools/roundtrip.js', 'read', dir])
  assert.equal(r.status, 0, r.stderr)
  assert.match(r.stdout, /node reader: ok \(written by node\)/)
  // Writing into a non-empty directory is refused.
  assert.equal(run(['tools/roundtrip.js', 'write', dir]).status, 1)

  // The reader notices a difference: one changed value, one extra key, one missing.
  const db = katamari.open(dir)
  db.putSync('greeting', 'changed')
  db.putSync('extra', 'x')
  db.deleteSync('empty')
  await db.close()
  const bad = run(['tools/roundtrip.js', 'read', dir])
  assert.equal(bad.status, 1)
  assert.match(bad.stderr, /wrong value for "greeting"/)
  assert.match(bad.stderr, /unexpected "extra"/)
  assert.match(bad.stderr, /missing "empty"/)

  assert.equal(run(['tools/roundtrip.js', 'read', path.join(tmpdir(), 'nothing')]).status, 1)
  assert.equal(run(['tools/roundtrip.js']).status, 2)
})

test('vectors.js runs a vector file', () => {
  const out = execFileSync(process.execPath, ['tools/vectors.js', 'test/fixtures/kv-sample.json'], { cwd: root, encoding: 'utf8' })
  assert.match(out, /6 cases, 0 failures/)
})

test('examples/demo.js reads the C and Go keys and writes its own', async () => {
  const dir = path.join(tmpdir(), 'demo')
  const db = katamari.open(dir)
  db.putSync('c:greeting', 'hello from C')
  db.putSync('go:greeting', 'hello from Go')
  await db.close()
  const first = run(['examples/demo.js', dir])
  assert.equal(first.status, 0, first.stderr)
  assert.match(first.stdout, /1 key\(s\) from C:\n {2}"c:greeting" = "hello from C"/)
  assert.match(first.stdout, /1 key\(s\) from Go:\n {2}"go:greeting" = "hello from Go"/)
  assert.match(first.stdout, /node:runs = 1/)
  const second = run(['examples/demo.js', dir])
  assert.match(second.stdout, /node:runs = 2/)
  const check = katamari.open(dir, { valueEncoding: 'utf8' })
  assert.equal(check.getSync('node:greeting'), 'hello from Node')
  await check.close()
  assert.equal(run(['examples/demo.js']).status, 2)
})
