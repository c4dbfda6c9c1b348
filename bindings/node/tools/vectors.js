'use strict'
// Runs the cross-language test vectors (tests/vectors/kv.json, format in
// tests/vectors/README.md) through this binding. Used by test/vectors.test.js; also a
// command: `node tools/vectors.js [kv.json]` prints one line per case and exits non-zero
// on a failure.

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const assert = require('node:assert/strict')
const katamari = require('..')

const SHARED = path.join(__dirname, '..', '..', '..', 'tests', 'vectors', 'kv.json')
const SAMPLE = path.join(__dirname, '..', 'test', 'fixtures', 'kv-sample.json')

/** Bytes of a vector value: a JSON string (UTF-8) or {hex, repeat?}. */
function bytes (v, what) {
  if (typeof v === 'string') return Buffer.from(v, 'utf8')
  if (v && typeof v === 'object' && typeof v.hex === 'string') {
    const one = Buffer.from(v.hex, 'hex')
    if (one.length * 2 !== v.hex.length) throw new Error(`${what}: bad hex ${v.hex}`)
    const n = v.repeat === undefined ? 1 : v.repeat
    return Buffer.concat(Array(n).fill(one))
  }
  throw new Error(`${what}: expected a string or {hex}, got ${JSON.stringify(v)}`)
}

const optBytes = (v, what) => (v === undefined || v === null ? undefined : bytes(v, what))

function show (buf) {
  return /^[\x20-\x7e]*$/.test(buf.toString('latin1')) ? JSON.stringify(buf.toString()) : `hex:${buf.toString('hex')}`
}

/**
 * Runs one case in a fresh directory under `root`. `mode` is 'async' (Promise calls) or
 * 'sync' (the *Sync calls). Throws an AssertionError naming the step on a mismatch.
 */
async function runCase (c, root, mode) {
  const dir = path.join(root, 'db')
  const o = c.options || {}
  const openOpts = { sync: 'never' }
  if (o.segment_size !== undefined) openOpts.segmentSize = o.segment_size
  let db = katamari.open(dir, openOpts)
  const keyspaces = new Map()
  const txns = new Map()
  const ks = (name) => {
    if (name === undefined || name === null) return db
    if (!keyspaces.has(name)) keyspaces.set(name, db.keyspace(name))
    return keyspaces.get(name)
  }
  const sync = mode === 'sync'
  try {
    for (let i = 0; i < c.steps.length; i++) {
      const s = c.steps[i]
      const where = `case "${c.name}" step ${i} (${s.op}, ${mode})`
      const want = s.status === undefined ? 'KAT_OK' : s.status
      let got = 'KAT_OK'
      let result
      const call = async (fn) => {
        try {
          result = await fn()
        } catch (err) {
          if (!err || typeof err.code !== 'string' || !err.code.startsWith('KAT_')) throw err
          got = err.code
        }
      }
      const txOf = (name) => {
        const t = txns.get(name)
        if (!t) throw new Error(`${where}: no transaction named ${name}`)
        return s.ks === undefined || s.ks === null ? t : t.keyspace(ks(s.ks))
      }
      switch (s.op) {
        // A keyspace is opened inside call(): a bad name is the step's status.
        case 'put':
          await call(() => {
            const t = ks(s.ks)
            return sync ? t.putSync(bytes(s.key), bytes(s.value)) : t.put(bytes(s.key), bytes(s.value))
          })
          break
        case 'get': {
          await call(() => {
            const t = ks(s.ks)
            return sync ? t.getSync(bytes(s.key)) : t.get(bytes(s.key))
          })
          if (got === 'KAT_OK' && want === 'KAT_OK' && s.value !== undefined) {
            assert.equal(show(result), show(bytes(s.value)), `${where}: value`)
          }
          break
        }
        case 'delete':
          await call(() => {
            const t = ks(s.ks)
            return sync ? t.deleteSync(bytes(s.key)) : t.delete(bytes(s.key))
          })
          break
        case 'contains': {
          await call(() => {
            const t = ks(s.ks)
            return sync ? t.hasSync(bytes(s.key)) : t.has(bytes(s.key))
          })
          if (got === 'KAT_OK' && s.found !== undefined) assert.equal(result, s.found, `${where}: found`)
          break
        }
        case 'batch': {
          // Opening a keyspace named by an op can fail too: that is the batch's status.
          const batchOp = (op) => {
            const out = { type: op.op === 'put' ? 'put' : 'del', key: bytes(op.key) }
            if (op.op === 'put') out.value = bytes(op.value)
            else if (op.op !== 'delete') throw new Error(`${where}: unknown batch op ${op.op}`)
            if (op.ks !== undefined && op.ks !== null) out.keyspace = ks(op.ks)
            return out
          }
          await call(() => {
            const ops = s.ops.map(batchOp)
            return sync ? db.batchSync(ops) : db.batch(ops)
          })
          break
        }
        case 'begin':
          await call(() => {
            txns.set(s.txn, db.begin({ readOnly: !!s.read_only, serializable: !!s.serializable }))
          })
          break
        case 'txn_put':
          await call(() => {
            const t = txOf(s.txn)
            return sync ? t.putSync(bytes(s.key), bytes(s.value)) : t.put(bytes(s.key), bytes(s.value))
          })
          break
        case 'txn_get':
          await call(() => {
            const t = txOf(s.txn)
            return sync ? t.getSync(bytes(s.key)) : t.get(bytes(s.key))
          })
          if (got === 'KAT_OK' && want === 'KAT_OK' && s.value !== undefined) {
            assert.equal(show(result), show(bytes(s.value)), `${where}: value`)
          }
          break
        case 'txn_delete':
          await call(() => {
            const t = txOf(s.txn)
            return sync ? t.deleteSync(bytes(s.key)) : t.delete(bytes(s.key))
          })
          break
        case 'commit':
          await call(() => (sync ? txns.get(s.txn).commitSync() : txns.get(s.txn).commit()))
          break
        case 'abort':
          await call(() => (sync ? txns.get(s.txn).abortSync() : txns.get(s.txn).abort()))
          break
        case 'scan': {
          const opts = {
            prefix: optBytes(s.prefix, 'prefix'),
            start: optBytes(s.start, 'start'),
            end: optBytes(s.end, 'end'),
            reverse: !!s.reverse
          }
          await call(async () => {
            const src = s.txn !== undefined && s.txn !== null ? txOf(s.txn) : ks(s.ks)
            const it = src.iterator(opts)
            if (!sync) return it.all()
            const out = []
            for (let e = it.nextSync(); e !== undefined; e = it.nextSync()) out.push(e)
            await it.close()
            return out
          })
          if (got === 'KAT_OK' && s.entries !== undefined) {
            assert.deepEqual(result.map(([k, v]) => [show(k), show(v)]),
              s.entries.map(([k, v]) => [show(bytes(k)), show(bytes(v))]), `${where}: entries`)
          }
          break
        }
        case 'drop_keyspace':
          await call(() => (sync ? db.dropKeyspaceSync(s.ks) : db.dropKeyspace(s.ks)))
          keyspaces.delete(s.ks)
          break
        case 'reopen':
          await db.close()
          keyspaces.clear()
          txns.clear()
          db = katamari.open(dir, openOpts)
          break
        default:
          throw new Error(`${where}: unknown op "${s.op}"`)
      }
      assert.equal(got, want, `${where}: status`)
    }
  } finally {
    await db.close()
  }
}

/** The vector file to run: the shared one, or (while it does not exist) the local sample. */
function vectorFile () {
  if (fs.existsSync(SHARED)) return { file: SHARED, shared: true }
  return { file: SAMPLE, shared: false }
}

function load (file) {
  const doc = JSON.parse(fs.readFileSync(file, 'utf8'))
  if (doc.format !== 1) throw new Error(`${file}: unsupported format ${doc.format}`)
  return doc.cases
}

async function main () {
  const file = process.argv[2] || vectorFile().file
  const cases = load(file)
  let failed = 0
  for (const c of cases) {
    for (const mode of ['async', 'sync']) {
      const root = fs.mkdtempSync(path.join(os.tmpdir(), 'katamari-vectors-'))
      try {
        await runCase(c, root, mode)
        console.log(`ok   ${c.name} (${mode})`)
      } catch (err) {
        failed++
        console.log(`FAIL ${c.name} (${mode}): ${err.message}`)
      } finally {
        fs.rmSync(root, { recursive: true, force: true })
      }
    }
  }
  console.log(`${file}: ${cases.length} cases, ${failed} failures`)
  process.exitCode = failed ? 1 : 0
}

module.exports = { runCase, vectorFile, load, bytes, SHARED, SAMPLE }

if (require.main === module) main()
