// Type declarations of the `katamari` package (hand-written; checked by `npm run typecheck`
// against test/types.ts).

/// <reference types="node" />

import { AbstractLevel, AbstractDatabaseOptions } from 'abstract-level'

/** Bytes accepted wherever a key or value goes in (strings are encoded as UTF-8). */
export type Bytes = Buffer | Uint8Array | string

/** The stable error codes: the C API's status names. */
export type StatusName =
  | 'KAT_OK'
  | 'KAT_NOT_FOUND'
  | 'KAT_INVALID_ARGUMENT'
  | 'KAT_IO'
  | 'KAT_CORRUPTION'
  | 'KAT_CONFLICT'
  | 'KAT_CLOSED'
  | 'KAT_LOCKED'
  | 'KAT_NO_SPACE'
  | 'KAT_TOO_LARGE'
  | 'KAT_AUTH_FAILED'
  | 'KAT_READ_ONLY'
  | 'KAT_PANIC'
  | 'KAT_INTERNAL'
  | 'KAT_BUFFER_TOO_SMALL'

/** Every error the package raises carries the status name and number. */
export interface KatamariError extends Error {
  code: StatusName
  status: number
}

export const codes: Readonly<Record<StatusName, number>>

/** Static text for a status number (from the C library). */
export function statusString (code: number): string

/** The loaded library's version, "MAJOR.MINOR.PATCH". */
export function version (): string
export const versionNumber: number

/** A custom encoding: `format` says whether `decode` receives a Buffer or a string. */
export interface CustomEncoding<T> {
  name?: string
  format?: 'buffer' | 'utf8'
  encode (value: T): Bytes
  decode (data: any): T
}

export type EncodingName = 'buffer' | 'binary' | 'utf8' | 'utf-8' | 'json'
export type Encoding = EncodingName | CustomEncoding<any>

/** What a value encoding decodes to. */
export type Decoded<E> =
  E extends 'utf8' | 'utf-8' ? string :
  E extends 'json' ? any :
  E extends CustomEncoding<infer T> ? T :
  Buffer

/** What a key / value encoding accepts. */
export type Encodable<E> =
  E extends 'json' ? any :
  E extends 'utf8' | 'utf-8' ? Bytes | number | boolean :
  E extends CustomEncoding<infer T> ? T :
  Bytes

export interface EncodingOptions<KE extends Encoding = Encoding, VE extends Encoding = Encoding> {
  keyEncoding?: KE
  valueEncoding?: VE
}

export interface OpenOptions<KE extends Encoding = 'buffer', VE extends Encoding = 'buffer'>
  extends EncodingOptions<KE, VE> {
  /** When commits reach stable storage (default 'always': fdatasync, group commit). */
  sync?: 'always' | 'interval' | 'never'
  /** Period of the background sync with sync: 'interval' (default 100). */
  syncIntervalMs?: number
  /** Size at which the active segment is sealed (at least 1024; default 128 MiB). */
  segmentSize?: number
  /** Open a damaged database anyway, skipping damaged batches (default false). */
  salvage?: boolean
  /**
   * The automatic merge policy (default `{deadRatio: 0.5, minDeadBytes: 256 MiB}`), or
   * false to turn it off (`merge()` still works). A `deadRatio` of 0 also turns it off;
   * one above 1 or NaN makes open fail with KAT_INVALID_ARGUMENT.
   */
  autoMerge?: AutoMergeOptions | false
  /** Create the directory if missing (default true; the parent must exist). */
  createIfMissing?: boolean
}

/**
 * After the active segment fills up, a background merge starts when unreachable bytes
 * make up at least `deadRatio` (0 to 1) of all segment bytes and amount to at least
 * `minDeadBytes`.
 */
export interface AutoMergeOptions {
  deadRatio: number
  minDeadBytes: number
}

export interface RangeOptions<K> {
  /** Keys starting with these bytes. */
  prefix?: K
  gt?: K
  gte?: K
  lt?: K
  lte?: K
  /** Inclusive lower bound (gt / gte win over it; gte wins over gt, as in Level). */
  start?: K
  /** Exclusive upper bound (lt / lte win over it; lte wins over lt). */
  end?: K
  /** From the largest key down. */
  reverse?: boolean
  /** At most this many entries (-1 or absent: no limit). */
  limit?: number
}

export interface IteratorOptions<K> extends RangeOptions<K> {
  /** false: keys come out undefined. */
  keys?: boolean
  /** false: values come out undefined. */
  values?: boolean
}

export interface Stats {
  liveKeys: number
  liveBytes: number
  deadBytes: number
  totalBytes: number
  segments: number
  keydirBytes: number
  lastSeq: number
  /** Merges completed since open (`merge()` or automatic). */
  merges: number
  /** Automatic merges that failed since open (a failed `merge()` rejects instead). */
  mergeFailures: number
}

/** What `merge()` did. */
export interface MergeStats {
  /** Segments merged away, and their total size in bytes. */
  inputSegments: number
  inputBytes: number
  /** Merged segments written, and their total size in bytes. */
  outputSegments: number
  outputBytes: number
  /** Records copied. */
  records: number
  /** Expired values dropped. */
  expired: number
  /** Wall time in milliseconds. */
  millis: number
}

/** What `backup()` copied. */
export interface BackupInfo {
  /** The copy holds exactly the commits up to this sequence number. */
  seq: number
  /** Segment files in the copy, and their total size in bytes. */
  segments: number
  bytes: number
  /** Files hard-linked rather than copied. */
  linked: number
}

/** What `verify()` found: damage is reported here, never as a rejection. */
export interface VerifyReport {
  /** No damaged batch or segment header and no bad hint file. */
  clean: boolean
  /** Segments checked. */
  segments: number
  /** Batches whose every checksum matched, and the records in them. */
  batches: number
  records: number
  /** Bytes checked. */
  bytes: number
  /** Hint files that matched their segment / did not (open then scans the segment). */
  hintsOk: number
  hintsBad: number
  /** Batches or segment headers that failed a check; 0 when intact. */
  damaged: number
  /** The first damage: segment number (file `%010d.kseg`), byte offset and reason
   * (at most 127 bytes); 0, 0 and '' when `damaged` is 0. */
  firstBadSegment: number
  firstBadOffset: number
  firstBadReason: string
}

export type BatchOperation<K, V> =
  | { type: 'put', key: K, value: V, ttl?: number, keyspace?: Keyspace<any, any> }
  | { type: 'del' | 'delete', key: K, keyspace?: Keyspace<any, any> }

export declare class ChainedBatch<K, V> {
  readonly length: number
  put (key: K, value: V, options?: { ttl?: number, keyspace?: Keyspace<any, any> }): this
  del (key: K, options?: { keyspace?: Keyspace<any, any> }): this
  delete (key: K, options?: { keyspace?: Keyspace<any, any> }): this
  clear (): this
  write (): Promise<void>
  writeSync (): void
}

/** A batched async iterator over one snapshot; `T` is what each step yields. */
export declare class Iterator<T> implements AsyncIterable<T> {
  readonly closed: boolean
  /** The next item, or undefined at the end. */
  next (): Promise<T | undefined>
  nextSync (): T | undefined
  /**
   * The entry before the one last returned (same shape as next()), or undefined before
   * the first; after the end, the last entry. next() then continues after it.
   */
  prev (): Promise<T | undefined>
  /** prev() on the calling thread; throws if an async call is in flight. */
  prevSync (): T | undefined
  nextv (size: number): Promise<T[]>
  /** Every remaining item; closes the iterator. */
  all (): Promise<T[]>
  seek (target: any): void
  close (): Promise<void>
  [Symbol.asyncIterator] (): AsyncGenerator<T, void, undefined>
}

/** Key/value calls shared by databases and keyspaces (not exported at run time). */
declare class KV<KE extends Encoding, VE extends Encoding> {
  readonly keyEncoding: string
  readonly valueEncoding: string
  /** Rejects with code KAT_NOT_FOUND when the key is absent. */
  get (key: Encodable<KE>): Promise<Decoded<VE>>
  /** Resolves undefined when the key is absent. */
  tryGet (key: Encodable<KE>): Promise<Decoded<VE> | undefined>
  /** Throws with code KAT_NOT_FOUND when the key is absent. */
  getSync (key: Encodable<KE>): Decoded<VE>
  tryGetSync (key: Encodable<KE>): Decoded<VE> | undefined
  getMany (keys: Array<Encodable<KE>>): Promise<Array<Decoded<VE> | undefined>>
  getManySync (keys: Array<Encodable<KE>>): Array<Decoded<VE> | undefined>
  has (key: Encodable<KE>): Promise<boolean>
  hasSync (key: Encodable<KE>): boolean
  /**
   * When the live value of `key` expires, in milliseconds since the Unix epoch
   * (`new Date(ms)`), or 0 when it never expires. Rejects with code KAT_NOT_FOUND, like
   * `get`, when the key has no live value (never written, deleted or expired).
   */
  expiresAt (key: Encodable<KE>): Promise<number>
  /** `expiresAt` in place; throws with code KAT_NOT_FOUND when there is no live value. */
  expiresAtSync (key: Encodable<KE>): number
  put (key: Encodable<KE>, value: Encodable<VE>): Promise<void>
  putSync (key: Encodable<KE>, value: Encodable<VE>): void
  /** The key expires `ttlMs` (at least 1) milliseconds from now (see `expiresAt`). */
  putTTL (key: Encodable<KE>, value: Encodable<VE>, ttlMs: number): Promise<void>
  putTTLSync (key: Encodable<KE>, value: Encodable<VE>, ttlMs: number): void
  delete (key: Encodable<KE>): Promise<void>
  deleteSync (key: Encodable<KE>): void
  del (key: Encodable<KE>): Promise<void>
  delSync (key: Encodable<KE>): void
  batch (ops: Array<BatchOperation<Encodable<KE>, Encodable<VE>>>): Promise<void>
  batch (): ChainedBatch<Encodable<KE>, Encodable<VE>>
  batchSync (ops: Array<BatchOperation<Encodable<KE>, Encodable<VE>>>): void
  iterator (options?: IteratorOptions<Encodable<KE>>): Iterator<[Decoded<KE>, Decoded<VE>]>
  keys (options?: RangeOptions<Encodable<KE>>): Iterator<Decoded<KE>>
  values (options?: RangeOptions<Encodable<KE>>): Iterator<Decoded<VE>>
}

export declare class Keyspace<KE extends Encoding = 'buffer', VE extends Encoding = 'buffer'>
  extends KV<KE, VE> {
  readonly name: string
  readonly db: DB<any, any>
}

export interface TransactionOptions {
  /** Writes fail with KAT_READ_ONLY. */
  readOnly?: boolean
  /** Commit also fails with KAT_CONFLICT when something it read was written since. */
  serializable?: boolean
}

export interface RunTransactionOptions extends TransactionOptions {
  /** How many times to run the function again after KAT_CONFLICT (default 0). */
  retries?: number
}

/** Reads see the transaction's snapshot plus its own writes. */
export declare class TransactionView<KE extends Encoding, VE extends Encoding> {
  get (key: Encodable<KE>): Promise<Decoded<VE>>
  tryGet (key: Encodable<KE>): Promise<Decoded<VE> | undefined>
  getSync (key: Encodable<KE>): Decoded<VE>
  tryGetSync (key: Encodable<KE>): Decoded<VE> | undefined
  has (key: Encodable<KE>): Promise<boolean>
  hasSync (key: Encodable<KE>): boolean
  put (key: Encodable<KE>, value: Encodable<VE>): Promise<void>
  putSync (key: Encodable<KE>, value: Encodable<VE>): void
  /** The key expires `ttlMs` (at least 1) milliseconds from now. */
  putTTL (key: Encodable<KE>, value: Encodable<VE>, ttlMs: number): Promise<void>
  putTTLSync (key: Encodable<KE>, value: Encodable<VE>, ttlMs: number): void
  delete (key: Encodable<KE>): Promise<void>
  deleteSync (key: Encodable<KE>): void
  del (key: Encodable<KE>): Promise<void>
  delSync (key: Encodable<KE>): void
  iterator (options?: IteratorOptions<Encodable<KE>>): Iterator<[Decoded<KE>, Decoded<VE>]>
  keys (options?: RangeOptions<Encodable<KE>>): Iterator<Decoded<KE>>
  values (options?: RangeOptions<Encodable<KE>>): Iterator<Decoded<VE>>
}

export declare class Transaction<KE extends Encoding = 'buffer', VE extends Encoding = 'buffer'>
  extends TransactionView<KE, VE> {
  readonly status: 'open' | 'committed' | 'aborted'
  readonly readOnly: boolean
  readonly serializable: boolean
  keyspace<K2 extends Encoding, V2 extends Encoding> (ks: Keyspace<K2, V2>): TransactionView<K2, V2>
  keyspace (name: string | Uint8Array): TransactionView<KE, VE>
  /** Rejects with KAT_CONFLICT (nothing written) when a concurrent commit won. */
  commit (): Promise<void>
  commitSync (): void
  abort (): Promise<void>
  abortSync (): void
}

export declare class DB<KE extends Encoding = 'buffer', VE extends Encoding = 'buffer'>
  extends KV<KE, VE> {
  readonly location: string
  readonly status: 'open' | 'closing' | 'closed'
  /** Resolves once work in flight is done and the directory is released. */
  close (): Promise<void>
  sync (): Promise<void>
  syncSync (): void
  stats (): Promise<Stats>
  statsSync (): Stats
  /** Compacts now; `close()` stops a merge in flight (it rejects with KAT_CLOSED). */
  merge (): Promise<MergeStats>
  mergeSync (): MergeStats
  /** Copies the database into the new directory `dest` (KAT_INVALID_ARGUMENT if it exists). */
  backup (dest: string): Promise<BackupInfo>
  backupSync (dest: string): BackupInfo
  /** Checks every checksum, changing nothing; damage is in the report. */
  verify (): Promise<VerifyReport>
  verifySync (): VerifyReport
  keyspace (name: string | Uint8Array): Keyspace<KE, VE>
  keyspace<K2 extends Encoding = KE, V2 extends Encoding = VE> (
    name: string | Uint8Array, options: EncodingOptions<K2, V2>): Keyspace<K2, V2>
  /** Rejects with KAT_NOT_FOUND when there is no such keyspace. */
  dropKeyspace (name: string | Uint8Array): Promise<void>
  dropKeyspaceSync (name: string | Uint8Array): void
  keyspaces (): Promise<string[]>
  keyspacesSync (): string[]
  begin (options?: TransactionOptions): Transaction<KE, VE>
  transaction<R> (fn: (tx: Transaction<KE, VE>) => R | Promise<R>,
    options?: RunTransactionOptions): Promise<R>
}

export function open<KE extends Encoding = 'buffer', VE extends Encoding = 'buffer'> (
  location: string, options?: OpenOptions<KE, VE>): DB<KE, VE>

export function openAsync<KE extends Encoding = 'buffer', VE extends Encoding = 'buffer'> (
  location: string, options?: OpenOptions<KE, VE>): Promise<DB<KE, VE>>

export const encodings: Readonly<Record<EncodingName, CustomEncoding<any>>>

export interface KatamariLevelOptions<K, V> extends AbstractDatabaseOptions<K, V> {
  sync?: 'always' | 'interval' | 'never'
  syncIntervalMs?: number
  segmentSize?: number
  salvage?: boolean
  autoMerge?: AutoMergeOptions | false
}

/**
 * The abstract-level implementation: Level semantics (a missing key is undefined),
 * sublevels, explicit snapshots (read-only transactions).
 */
export declare class KatamariLevel<KDefault = string, VDefault = string>
  extends AbstractLevel<Buffer | Uint8Array | string, KDefault, VDefault> {
  constructor (location: string, options?: KatamariLevelOptions<KDefault, VDefault>)
  readonly location: string
  /** The Katamari database behind it while open, else null. */
  readonly katamari: DB | null
}
