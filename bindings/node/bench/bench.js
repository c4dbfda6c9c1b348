#!/usr/bin/env node
'use strict'
// Benchmark of the Node binding beside classic-level (LevelDB) and lmdb (lmdb-js), in one
// run, on the same workloads: 16-byte keys, 100-byte values.
//
//   cd bindings/node/bench && npm install && node bench.js
//   BENCH_N=200000 BENCH_INFLIGHT=1000 node bench.js
//
// Workloads (ops/s, higher is better): putSync, put (async, BENCH_INFLIGHT in flight),
// batch put (batches of 1000), getSync, get (async, BENCH_INFLIGHT in flight), scan
// (keys+values/s over every key). Durability: no per-write sync in any engine
// (Katamari sync 'never', classic-level's default sync: false, lmdb noSync) -- the
// engines' fsync policies differ too much to compare otherwise. A peer that lacks a
// call shows "n/a". Peers that are not installed are skipped.

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const katamari = require('..')

const N = Number(process.env.BENCH_N || 100000)
const INFLIGHT = Number(process.env.BENCH_INFLIGHT || 1000)
const BATCH = 1000
const VALUE = Buffer.alloc(100, 'v')

function key (i) {
  return Buffer.from('key' + String(i).padStart(13, '0')) // 16 bytes
}

// A random permutation of 0..N-1, so reads are not in write order.
const order = Array.from({ length: N }, (_, i) => i)
for (let i = N - 1; i > 0; i--) {
  const j = Math.floor(Math.random() * (i + 1))
  const t = order[i]
  order[i] = order[j]
  order[j] = t
}
const keys = order.map(key)

async function timed (fn) {
  const t0 = process.hrtime.bigint()
  const n = await fn()
  const s = Number(process.hrtime.bigint() - t0) / 1e9
  return n / s
}

// Runs `one(i)` for i in 0..N-1 with at most INFLIGHT promises outstanding.
async function windowed (one) {
  let next = 0
  async function lane () {
    while (next < N) await one(next++)
  }
  await Promise.all(Array.from({ length: Math.min(INFLIGHT, N) }, lane))
  return N
}

function pkgVersion (name) {
  // Read directly: lmdb's "exports" hides its package.json.
  const dir = path.join(__dirname, 'node_modules', name, 'package.json')
  return JSON.parse(fs.readFileSync(dir, 'utf8')).version
}

function tmp (name) {
  return fs.mkdtempSync(path.join(os.tmpdir(), `bench-${name}-`))
}

const engines = {
  katamari: {
    version: katamari.version(),
    async open () {
      this.dir = tmp('katamari')
      this.db = katamari.open(path.join(this.dir, 'db'), { sync: 'never' })
    },
    putSync (k, v) { this.db.putSync(k, v) },
    put (k, v) { return this.db.put(k, v) },
    batch (ops) { return this.db.batch(ops) },
    getSync (k) { return this.db.tryGetSync(k) },
    get (k) { return this.db.tryGet(k) },
    async scan () {
      let n = 0
      for await (const e of this.db.iterator()) if (e) n++
      return n
    },
    async close () { await this.db.close() }
  },
  'classic-level': {
    async open () {
      const { ClassicLevel } = require('classic-level')
      this.version = pkgVersion('classic-level')
      this.dir = tmp('classic')
      this.db = new ClassicLevel(this.dir, { keyEncoding: 'buffer', valueEncoding: 'buffer' })
      await this.db.open()
    },
    putSync: null,
    put (k, v) { return this.db.put(k, v) },
    batch (ops) { return this.db.batch(ops) },
    getSync (k) { return this.db.getSync(k) },
    get (k) { return this.db.get(k) },
    async scan () {
      let n = 0
      for await (const e of this.db.iterator()) if (e) n++
      return n
    },
    async close () { await this.db.close() }
  },
  lmdb: {
    async open () {
      const { open } = require('lmdb')
      this.version = pkgVersion('lmdb')
      this.dir = tmp('lmdb')
      this.db = open({ path: this.dir, keyEncoding: 'binary', encoding: 'binary', noSync: true, compression: false })
    },
    putSync (k, v) { this.db.putSync(k, v) },
    put (k, v) { return this.db.put(k, v) },
    batch (ops) {
      return this.db.transaction(() => {
        for (const o of ops) this.db.put(o.key, o.value)
      })
    },
    getSync (k) { return this.db.get(k) },
    get: null, // lmdb-js reads are synchronous only
    async scan () {
      let n = 0
      for (const e of this.db.getRange()) if (e) n++
      return n
    },
    async close () { await this.db.close() }
  }
}

async function benchEngine (e) {
  await e.open()
  const r = {}
  // Each write workload writes all N keys into a fresh key range.
  if (e.putSync) r.putSync = await timed(() => { for (let i = 0; i < N; i++) e.putSync(keys[i], VALUE); return N })
  r.put = await timed(() => windowed((i) => e.put(keys[i], VALUE)))
  r['batch put'] = await timed(async () => {
    for (let i = 0; i < N; i += BATCH) {
      const ops = []
      for (let j = i; j < Math.min(N, i + BATCH); j++) ops.push({ type: 'put', key: keys[j], value: VALUE })
      await e.batch(ops)
    }
    return N
  })
  let found = 0
  r.getSync = await timed(() => { for (let i = 0; i < N; i++) if (e.getSync(keys[i])) found++; return N })
  if (found !== N) throw new Error(`getSync found ${found} of ${N}`)
  if (e.get) r.get = await timed(() => windowed(async (i) => { if (!(await e.get(keys[i]))) throw new Error('missing') }))
  let scanned = 0
  r.scan = await timed(async () => { scanned = await e.scan(); return scanned })
  if (scanned !== N) throw new Error(`scan saw ${scanned} of ${N}`)
  await e.close()
  fs.rmSync(e.dir, { recursive: true, force: true })
  return r
}

function fmt (x) {
  return x === undefined ? 'n/a' : Math.round(x).toLocaleString('en-US')
}

async function main () {
  const results = {}
  const versions = {}
  for (const [name, e] of Object.entries(engines)) {
    try {
      results[name] = await benchEngine(e)
      versions[name] = e.version
    } catch (err) {
      if (err.code === 'MODULE_NOT_FOUND') {
        console.log(`${name}: not installed (npm install in ${__dirname}), skipped`)
        continue
      }
      throw err
    }
  }
  const names = Object.keys(results)
  const rows = ['putSync', 'put', 'batch put', 'getSync', 'get', 'scan']
  console.log(`N = ${N} keys of 16 bytes, values of 100 bytes, ${INFLIGHT} async calls in flight, ` +
    `batches of ${BATCH}; Node ${process.versions.node}, UV_THREADPOOL_SIZE=${process.env.UV_THREADPOOL_SIZE || 4}, ${os.cpus().length} CPUs`)
  console.log(names.map((n) => `${n} ${versions[n]}`).join(', '))
  const w = 14
  console.log('ops/s'.padEnd(12) + names.map((n) => n.padStart(w)).join('') + '  katamari / best peer')
  for (const row of rows) {
    const peers = names.filter((n) => n !== 'katamari').map((n) => results[n][row]).filter((x) => x !== undefined)
    const best = peers.length ? Math.max(...peers) : undefined
    const k = results.katamari && results.katamari[row]
    const ratio = best && k ? (k / best).toFixed(2) + 'x' : ''
    console.log(row.padEnd(12) + names.map((n) => fmt(results[n][row]).padStart(w)).join('') + '  ' + ratio)
  }
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
