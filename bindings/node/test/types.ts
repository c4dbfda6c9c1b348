// A typed usage of the package: `npm run typecheck` (tsc --noEmit) checks index.d.ts
// against it. Never run; every line must type-check. Lines marked @ts-expect-error must not.

import * as katamari from '..'
import { open, openAsync, DB, Keyspace, Transaction, Iterator, KatamariError, Stats, MergeStats, BackupInfo, VerifyReport } from '..'

async function usage (): Promise<void> {
  // Buffers by default.
  const db: DB = open('/tmp/x', { sync: 'interval', syncIntervalMs: 10, segmentSize: 1 << 20, salvage: false, createIfMissing: true })
  const v: Buffer = await db.get('key')
  const v2: Buffer | undefined = await db.tryGet(Buffer.from('key'))
  const v3: Buffer = db.getSync(new Uint8Array([1, 2]))
  const v4: Buffer | undefined = db.tryGetSync('k')
  const many: Array<Buffer | undefined> = await db.getMany(['a', Buffer.from('b')])
  const manySync: Array<Buffer | undefined> = db.getManySync(['a'])
  const has: boolean = await db.has('k')
  const hasSync: boolean = db.hasSync('k')
  await db.put('k', 'v')
  db.putSync('k', Buffer.alloc(1))
  await db.putTTL('k', 'v', 1000)
  db.putTTLSync('k', 'v', 1000)
  const expires: number = await db.expiresAt('k')
  const expiresSync: number = db.expiresAtSync(Buffer.from('k'))
  const expiresDate: Date = new Date(expires)
  await db.delete('k')
  db.deleteSync('k')
  await db.del('k')
  db.delSync('k')
  await db.batch([{ type: 'put', key: 'a', value: 'b', ttl: 5 }, { type: 'del', key: 'a' }])
  db.batchSync([{ type: 'delete', key: 'a' }])
  await db.batch().put('a', 'b').del('c').write()
  db.batch().put('a', 'b', { ttl: 10 }).writeSync()
  const s: Stats = await db.stats()
  const n: number = db.statsSync().liveKeys + s.lastSeq
  await db.sync()
  db.syncSync()
  const merges: number = s.merges + s.mergeFailures

  // Merge, backup, verify and the auto-merge policy.
  const m: MergeStats = await db.merge()
  const m2: MergeStats = db.mergeSync()
  const info: BackupInfo = await db.backup('/tmp/backup')
  const info2: BackupInfo = db.backupSync('/tmp/backup2')
  const report: VerifyReport = await db.verify()
  const clean: boolean = db.verifySync().clean && report.damaged === 0
  const reason: string = report.firstBadReason
  const mergedBytes: number = m.outputBytes + m2.millis + info.seq + info2.linked + report.firstBadSegment
  open('/tmp/am', { autoMerge: { deadRatio: 0.3, minDeadBytes: 64 << 20 } })
  open('/tmp/am', { autoMerge: false })
  // @ts-expect-error autoMerge is an object or false
  open('/tmp/am', { autoMerge: true })
  // @ts-expect-error both fields are needed
  open('/tmp/am', { autoMerge: { deadRatio: 0.3 } })
  // @ts-expect-error backup needs a destination
  await db.backup()
  const status: 'open' | 'closing' | 'closed' = db.status
  const loc: string = db.location

  // Encodings change what comes out.
  const jdb = await openAsync('/tmp/y', { keyEncoding: 'utf8', valueEncoding: 'json' })
  const doc: any = await jdb.get('doc')
  await jdb.put('doc', { any: ['json', 1] })
  const sdb = open('/tmp/z', { valueEncoding: 'utf8' })
  const str: string = sdb.getSync('k')
  // @ts-expect-error an expiry is a number, not a Date
  const notDate: Date = sdb.expiresAtSync('k')
  // @ts-expect-error a utf8 value is a string, not a Buffer
  const notBuf: Buffer = sdb.getSync('k')

  // Iterators.
  for await (const [key, value] of db.iterator({ prefix: 'a', gt: 'a', lte: 'z', reverse: true, limit: 10 })) {
    const k: Buffer = key
    const val: Buffer = value
  }
  for await (const [key, value] of sdb.iterator({ start: 'a', end: 'b' })) {
    const k: Buffer = key
    const val: string = value
  }
  const it: Iterator<[Buffer, Buffer]> = db.iterator()
  const first: [Buffer, Buffer] | undefined = await it.next()
  const firstSync: [Buffer, Buffer] | undefined = it.nextSync()
  const before: [Buffer, Buffer] | undefined = it.prevSync()
  const beforeAsync: [Buffer, Buffer] | undefined = await it.prev()
  const prevValue: string | undefined = sdb.values().prevSync()
  const batch: Array<[Buffer, Buffer]> = await it.nextv(10)
  it.seek('m')
  await it.close()
  const closed: boolean = it.closed
  const keys: Buffer[] = await db.keys({ prefix: 'x' }).all()
  const values: string[] = await sdb.values().all()

  // Keyspaces.
  const ks: Keyspace = db.keyspace('users')
  const jks: Keyspace<'buffer', 'json'> = db.keyspace('docs', { valueEncoding: 'json' })
  await jks.put('a', { x: 1 })
  const name: string = ks.name
  const ksExpires: number = await ks.expiresAt('a') + jks.expiresAtSync('a')
  const names: string[] = await db.keyspaces()
  const namesSync: string[] = db.keyspacesSync()
  await db.dropKeyspace('users')
  db.dropKeyspaceSync('docs')
  await db.batch([{ type: 'put', key: 'a', value: 'b', keyspace: ks }])
  await db.batch([{ type: 'put', key: 'a', value: 'b', keyspace: ks, ttl: 1000 }])

  // Transactions.
  const out: number = await db.transaction(async (tx) => {
    const t: Transaction = tx
    const cur: Buffer | undefined = await tx.tryGet('n')
    await tx.put('n', String(Number(cur ?? 0) + 1))
    tx.putSync('m', 'x')
    tx.putTTLSync('t', 'x', 5)
    await tx.keyspace(ks).put('a', 'b')
    await tx.keyspace(ks).putTTL('a', 'b', 1000)
    const ksHas: boolean = await tx.keyspace(ks).has('a')
    // @ts-expect-error the C API has no expiry lookup in a transaction
    await tx.expiresAt('a')
    await tx.keyspace('other').delete('a')
    const inTx: Array<[Buffer, Buffer]> = await tx.iterator({ prefix: 'n' }).all()
    return 1
  }, { retries: 3, serializable: true })
  const tx = db.begin({ readOnly: true })
  const txState: 'open' | 'committed' | 'aborted' = tx.status
  await tx.commit()
  tx.abortSync()

  // Errors carry a stable code.
  try {
    db.getSync('missing')
  } catch (err) {
    const e = err as KatamariError
    if (e.code === 'KAT_NOT_FOUND') console.log(e.status, katamari.codes.KAT_NOT_FOUND)
    // @ts-expect-error not a status name
    if (e.code === 'NOT_FOUND') console.log('never')
  }
  const text: string = katamari.statusString(katamari.codes.KAT_CONFLICT)
  const ver: string = katamari.version()

  // The abstract-level adapter.
  const level = new katamari.KatamariLevel<string, string>('/tmp/level', { valueEncoding: 'utf8', sync: 'never', autoMerge: false })
  await level.put('a', 'b')
  const got: string | undefined = await level.get('a')
  const sub = level.sublevel<string, string>('sub', { valueEncoding: 'utf8' })
  await sub.put('x', 'y')
  const inner: DB | null = level.katamari
  await level.close()

  await db.close()
  await jdb.close()
  await sdb.close()
  void [v, v2, v3, v4, many, manySync, has, hasSync, expires, expiresSync, expiresDate, ksExpires, notDate, n, merges, clean, reason, mergedBytes, status, loc, doc, str, notBuf, first, firstSync, batch, closed, keys, values, name, names, namesSync, out, txState, text, ver, got, inner]
}

void usage
