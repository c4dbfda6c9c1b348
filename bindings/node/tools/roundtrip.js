#!/usr/bin/env node
'use strict'
// The Node writer and reader of the cross-language round trip (tests/vectors/README.md):
//
//   node tools/roundtrip.js write <dir> [dataset.json]
//       opens a fresh directory, writes the dataset plus "writer" = "node", closes.
//   node tools/roundtrip.js read <dir> [dataset.json]
//       opens a directory written by any language, checks that the keyspaces and every
//       keyspace's full scan equal the dataset exactly (plus the "writer" key), prints
//       who wrote it. Exits 1 on any difference.

const fs = require('node:fs')
const path = require('node:path')
const katamari = require('..')
const { bytes } = require('./vectors')

const DATASET = path.join(__dirname, '..', '..', '..', 'tests', 'vectors', 'dataset.json')

function loadDataset (file) {
  const doc = JSON.parse(fs.readFileSync(file, 'utf8'))
  if (doc.format !== 1) throw new Error(`${file}: unsupported format ${doc.format}`)
  // Expected contents per keyspace (null = the default keyspace), sorted by key bytes.
  const byKs = new Map([[null, new Map()]])
  for (const name of doc.keyspaces || []) byKs.set(name, new Map())
  for (const e of doc.entries) {
    const ks = e.ks === undefined ? null : e.ks
    if (!byKs.has(ks)) byKs.set(ks, new Map())
    byKs.get(ks).set(bytes(e.key, 'key').toString('hex'), bytes(e.value, 'value'))
  }
  return byKs
}

function describe (hexKey) {
  const b = Buffer.from(hexKey, 'hex')
  const s = b.toString('utf8')
  return b.length > 40 ? `${b.length}-byte key` : (Buffer.from(s).equals(b) && /^[^\x00-\x1f]*$/.test(s) ? JSON.stringify(s) : `hex:${hexKey}`)
}

async function write (dir, file) {
  const data = loadDataset(file)
  if (fs.existsSync(dir) && fs.readdirSync(dir).length) throw new Error(`${dir} is not empty`)
  const db = katamari.open(dir, { sync: 'always' })
  const ops = []
  for (const [ks, entries] of data) {
    const target = ks === null ? null : db.keyspace(ks)
    for (const [hexKey, value] of entries) {
      ops.push({ type: 'put', key: Buffer.from(hexKey, 'hex'), value, keyspace: target || undefined })
    }
  }
  const entries = ops.length
  ops.push({ type: 'put', key: 'writer', value: 'node' })
  await db.batch(ops)
  await db.close()
  console.log(`node writer: wrote ${entries} entries in ${data.size - 1} keyspaces to ${dir}`)
}

async function read (dir, file) {
  const data = loadDataset(file)
  const db = katamari.open(dir, { createIfMissing: false })
  const problems = []
  let writer = '(missing)'
  try {
    const names = (await db.keyspaces()).sort()
    const want = [...data.keys()].filter((k) => k !== null).sort()
    if (JSON.stringify(names) !== JSON.stringify(want)) {
      problems.push(`keyspaces: got ${JSON.stringify(names)}, want ${JSON.stringify(want)}`)
    }
    for (const [ks, expected] of data) {
      const label = ks === null ? 'default keyspace' : `keyspace ${JSON.stringify(ks)}`
      const src = ks === null ? db : db.keyspace(ks)
      const got = new Map()
      for await (const [k, v] of src.iterator()) got.set(k.toString('hex'), v)
      if (ks === null) {
        const w = got.get(Buffer.from('writer').toString('hex'))
        if (w === undefined) problems.push('the "writer" key is missing')
        else writer = w.toString()
        got.delete(Buffer.from('writer').toString('hex'))
      }
      for (const [hexKey, value] of expected) {
        if (!got.has(hexKey)) problems.push(`${label}: missing ${describe(hexKey)}`)
        else if (!got.get(hexKey).equals(value)) problems.push(`${label}: wrong value for ${describe(hexKey)}`)
      }
      for (const hexKey of got.keys()) {
        if (!expected.has(hexKey)) problems.push(`${label}: unexpected ${describe(hexKey)}`)
      }
      // The scan order is the byte order of the keys.
      const order = [...got.keys()]
      const sorted = [...order].sort((a, b) => Buffer.compare(Buffer.from(a, 'hex'), Buffer.from(b, 'hex')))
      if (order.join() !== sorted.join()) problems.push(`${label}: scan not in key order`)
    }
  } finally {
    await db.close()
  }
  if (problems.length) {
    for (const p of problems) console.error(`node reader: ${p}`)
    throw new Error(`${dir} (written by ${writer}) differs from the dataset in ${problems.length} ways`)
  }
  console.log(`node reader: ok (written by ${writer})`)
}

async function main () {
  const [cmd, dir, file = DATASET] = process.argv.slice(2)
  if (!['write', 'read'].includes(cmd) || !dir) {
    console.error('usage: node tools/roundtrip.js write|read <dir> [dataset.json]')
    process.exit(2)
  }
  if (!fs.existsSync(file)) {
    console.error(`roundtrip: ${file} does not exist`)
    process.exit(2)
  }
  await (cmd === 'write' ? write : read)(path.resolve(dir), file)
}

main().catch((err) => {
  console.error(`roundtrip: ${err.message}`)
  process.exit(1)
})
