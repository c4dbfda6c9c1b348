'use strict'
// Shared helpers of the test files (not itself a test file: `npm test` runs test/*.test.js).

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const assert = require('node:assert/strict')

const roots = []

/** A fresh empty directory (removed when the process exits); the database goes in `db`. */
function tmpdir () {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'katamari-node-'))
  roots.push(d)
  return d
}

function dbdir () {
  return path.join(tmpdir(), 'db')
}

process.on('exit', () => {
  if (process.env.KAT_KEEP_TMP) return
  for (const d of roots) fs.rmSync(d, { recursive: true, force: true })
})

/** Asserts that `fn` throws (sync) an Error whose .code is `code`. */
function throwsCode (fn, code) {
  assert.throws(fn, (err) => {
    assert.ok(err instanceof Error, 'an Error')
    assert.equal(err.code, code, `code of: ${err.message}`)
    return true
  })
}

/** Asserts that the promise rejects with an Error whose .code is `code`. */
async function rejectsCode (p, code) {
  await assert.rejects(p, (err) => {
    assert.ok(err instanceof Error, 'an Error')
    assert.equal(err.code, code, `code of: ${err.message}`)
    return true
  })
}

const b = (s) => Buffer.from(s)

module.exports = { tmpdir, dbdir, throwsCode, rejectsCode, b }
