'use strict'
// KAT_NO_SPACE: fill a tiny tmpfs (mounted when running as root and allowed to mount;
// skipped otherwise) until a write fails.

const { test } = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')
const { execFileSync } = require('node:child_process')
const katamari = require('..')
const { tmpdir } = require('./helpers')

function mountTmpfs () {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return 'needs root to mount a small tmpfs'
  const mnt = tmpdir()
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', mnt], { stdio: 'pipe' })
  } catch (err) {
    return `cannot mount a tmpfs: ${String(err.stderr || err.message).trim()}`
  }
  return mnt
}

const mnt = mountTmpfs()
const skip = mnt.startsWith('/') ? false : mnt

test('a full device is KAT_NO_SPACE (sync and async calls)', { skip }, async () => {
  try {
    const db = katamari.open(path.join(mnt, 'db'), { sync: 'never', segmentSize: 64 << 10 })
    const val = Buffer.alloc(4096)
    let err = null
    for (let i = 0; i < 1000 && err === null; i++) {
      try {
        if (i % 2) db.putSync('k' + i, val)
        else await db.put('k' + i, val)
        if (i % 8 === 0) await db.sync()
      } catch (e) {
        err = e
      }
    }
    assert.ok(err, '4 MB fitted into a 256 KiB tmpfs')
    assert.equal(err.code, 'KAT_NO_SPACE', err.message)
    assert.equal(err.status, katamari.codes.KAT_NO_SPACE)
    await db.close().catch(() => {})
  } finally {
    execFileSync('umount', [mnt])
  }
})
