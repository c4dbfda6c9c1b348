#!/usr/bin/env node
'use strict'
// demo.js: the Node part of `make demo`. Opens the data directory shared with the C and
// Go demos, reads what they wrote (keys "c:..." and "go:..."), writes its own "node:..."
// keys, and prints what it did.
//
//   node bindings/node/examples/demo.js <dir>

const katamari = require('..')

function show (buf) {
  const s = buf.toString('utf8')
  return /^[\x20-\x7e\u00a0-\uffff]*$/.test(s) ? JSON.stringify(s) : `<${buf.length} bytes: ${buf.toString('hex').slice(0, 32)}>`
}

async function main () {
  const dir = process.argv[2]
  if (!dir) {
    console.error('usage: node demo.js <data directory>')
    process.exit(2)
  }
  const db = await katamari.openAsync(dir, { sync: 'always' })
  console.log(`node: opened ${dir} with katamari ${katamari.version()} (Node ${process.versions.node})`)
  try {
    // What the others wrote, through the batched async iterator.
    for (const [prefix, who] of [['c:', 'C'], ['go:', 'Go']]) {
      const entries = await db.iterator({ prefix }).all()
      if (entries.length === 0) {
        console.log(`node: no keys from ${who} yet (prefix "${prefix}")`)
        continue
      }
      console.log(`node: ${entries.length} key(s) from ${who}:`)
      for (const [k, v] of entries) console.log(`  ${show(k)} = ${show(v)}`)
    }

    // Our own keys: one atomic batch, then a transaction that counts the runs.
    await db.batch([
      { type: 'put', key: 'node:greeting', value: 'hello from Node' },
      { type: 'put', key: 'node:version', value: process.versions.node },
      { type: 'put', key: 'node:time', value: new Date().toISOString() }
    ])
    const runs = await db.transaction(async (tx) => {
      const prev = await tx.tryGet('node:runs')
      const n = prev === undefined ? 1 : Number(prev.toString()) + 1
      await tx.put('node:runs', String(n))
      return n
    }, { retries: 3 })
    console.log(`node: wrote node:greeting, node:version, node:time (one batch) and node:runs = ${runs} (a transaction)`)

    // Read back with the sync API (the hot path) and show our keys.
    console.log(`node: getSync('node:greeting') = ${show(db.getSync('node:greeting'))}`)
    for await (const [k, v] of db.iterator({ prefix: 'node:' })) console.log(`  ${show(k)} = ${show(v)}`)
    const s = await db.stats()
    console.log(`node: ${s.liveKeys} live keys in ${s.segments} segment(s), ${s.totalBytes} bytes on disk`)
  } finally {
    await db.close()
  }
  console.log('node: closed')
}

main().catch((err) => {
  console.error(`node demo: ${err.code || 'error'}: ${err.message}`)
  process.exit(1)
})
