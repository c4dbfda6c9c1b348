'use strict'

// The Node binding of Katamari. Native calls live in src/binding.c; this file adds
// encodings, closed-state checks, work tracking (close() waits for work in flight),
// batched async iterators, transactions with retry, and keyspaces. See README.md.

const binding = loadBinding()

const codes = Object.freeze({
  KAT_OK: 0,
  KAT_NOT_FOUND: 1,
  KAT_INVALID_ARGUMENT: 2,
  KAT_IO: 3,
  KAT_CORRUPTION: 4,
  KAT_CONFLICT: 5,
  KAT_CLOSED: 6,
  KAT_LOCKED: 7,
  KAT_NO_SPACE: 8,
  KAT_TOO_LARGE: 9,
  KAT_AUTH_FAILED: 10,
  KAT_READ_ONLY: 11,
  KAT_PANIC: 12,
  KAT_INTERNAL: 13,
  KAT_BUFFER_TOO_SMALL: 14
})

const SYNC_MODES = { always: 0, interval: 1, never: 2 }
const TXN_READ_ONLY = 1
const TXN_SERIALIZABLE = 2

// Result flags of the native calls (see binding.c).
const F_KEY_STR = 1
const F_VAL_STR = 2
const F_NO_VALUES = 4
const F_NO_KEYS = 8
const F_RAW = 16
const F_SCRATCH = 32

// Sync gets copy a value that fits into this Buffer and return its length; copyOut()
// then makes the caller's Buffer from Node's pool, much cheaper than a Buffer made by
// N-API. Used only within one synchronous call, so one per module instance (worker
// threads load their own).
const SCRATCH = Buffer.allocUnsafeSlow(64 * 1024)
binding.setScratch(SCRATCH)

// Async gets issued in the same tick go to the pool together, in chunks of this size.
const GET_CHUNK = 256

const ITER_MIN_BATCH = 16
const ITER_MAX_BATCH = 1024
const ITER_MAX_BYTES = 1 << 20
const EMPTY = Buffer.alloc(0)

const OPEN = 'open'
const CLOSING = 'closing'
const CLOSED = 'closed'

function loadBinding () {
  const path = require('node:path')
  const candidates = ['build/Release/katamari.node', 'build/Debug/katamari.node']
  let firstError
  for (const c of candidates) {
    try {
      return require(path.join(__dirname, c))
    } catch (err) {
      if (err.code !== 'MODULE_NOT_FOUND') throw err
      firstError = firstError || err
    }
  }
  const err = new Error('katamari: the native addon is not built (run `npm run build` in ' +
    __dirname + ')')
  err.code = 'KAT_NOT_BUILT'
  err.cause = firstError
  throw err
}

// ---------------------------------------------------------------------------------------
// Errors

/** An Error with a stable `.code` (a `KAT_*` name) and `.status` (its number). */
function katError (code, message, Ctor = Error) {
  const err = new Ctor(message)
  err.code = code
  err.status = codes[code]
  return err
}

function closedError (what = 'the database') {
  return katError('KAT_CLOSED', `${what} is closed`)
}

function notFoundError () {
  return katError('KAT_NOT_FOUND', 'not found')
}

function invalid (message) {
  return katError('KAT_INVALID_ARGUMENT', message, TypeError)
}

function statusString (code) {
  return binding.statusString(code)
}

// ---------------------------------------------------------------------------------------
// Encodings: how keys and values cross into bytes. `format` says what the native side
// hands back: 'buffer' (a Buffer copy) or 'utf8' (a string decoded from UTF-8).

function identity (x) { return x }

/** A copy of buf[start, end) in a new (pooled when small) Buffer. */
function copyOut (buf, start, end) {
  const out = Buffer.allocUnsafe(end - start)
  buf.copy(out, 0, start, end)
  return out
}

// The value of a sync get as the native side returned it: a length in SCRATCH, a
// string (utf8 format), a Buffer (too big for SCRATCH) or undefined.
function fromScratch (r) {
  return typeof r === 'number' ? copyOut(SCRATCH, 0, r) : r
}

// Values of a raw getMany: per key a u32 LE length (0xffffffff: absent) and the bytes.
function parseMany (raw, n, asString, decode) {
  const out = new Array(n)
  let p = 0
  for (let i = 0; i < n; i++) {
    const len = raw.readUInt32LE(p)
    p += 4
    if (len === 0xffffffff) {
      out[i] = undefined
      continue
    }
    const v = asString ? raw.toString('utf8', p, p + len) : copyOut(raw, p, p + len)
    out[i] = decode === null ? v : decode(v)
    p += len
  }
  return out
}

function checkKey (k) {
  if (typeof k !== 'string' && !(k instanceof Uint8Array)) {
    throw invalid('key must be a Buffer, Uint8Array or string')
  }
  return k
}

const builtinEncodings = {
  buffer: Object.freeze({ name: 'buffer', format: 'buffer', encode: identity, decode: null }),
  utf8: Object.freeze({
    name: 'utf8',
    format: 'utf8',
    encode: (v) => {
      if (typeof v === 'string' || v instanceof Uint8Array) return v
      if (v === undefined || v === null) throw invalid('utf8 encoding: keys and values must not be null or undefined')
      return String(v)
    },
    decode: null
  }),
  json: Object.freeze({
    name: 'json',
    format: 'utf8',
    encode: (v) => {
      const s = JSON.stringify(v)
      if (s === undefined) throw invalid('json encoding: the value has no JSON form')
      return s
    },
    decode: (s) => JSON.parse(s)
  })
}
builtinEncodings.binary = builtinEncodings.buffer
builtinEncodings['utf-8'] = builtinEncodings.utf8

function encodingOf (e, what) {
  if (e === undefined || e === null) return builtinEncodings.buffer
  if (typeof e === 'string') {
    const found = builtinEncodings[e]
    if (!found) throw invalid(`${what}: unknown encoding '${e}' (buffer, utf8 or json)`)
    return found
  }
  if (typeof e === 'object' && typeof e.encode === 'function' && typeof e.decode === 'function') {
    const format = e.format === 'utf8' ? 'utf8' : 'buffer'
    return Object.freeze({ name: e.name || 'custom', format, encode: e.encode, decode: e.decode })
  }
  throw invalid(`${what} must be 'buffer', 'utf8', 'json' or an {encode, decode} object`)
}

function encodingName (enc) {
  return enc.name
}

// A view of a database, keyspace or transaction (view) that shares its handle but encodes
// keys and decodes values with other encodings (used by the abstract-level adapter for
// per-call formats).
function withEncodings (target, keyEncoding, valueEncoding) {
  const view = Object.create(target)
  view._ke = keyEncoding
  view._ve = valueEncoding
  view._kenc = keyEncoding.encode
  view._venc = valueEncoding.encode
  view._vdec = valueEncoding.decode
  view._vflag = valueEncoding.format === 'utf8' ? F_VAL_STR : 0
  view._getq = null // its own queue of async gets: they decode with its encodings
  return view
}

// ---------------------------------------------------------------------------------------
// Key/value operations shared by databases and keyspaces.

class KV {
  constructor (db, target, keyEncoding, valueEncoding) {
    this._db = db
    this._t = target
    this._getq = null // async gets waiting for the next flush (see tryGet)
    this._setEncodings(keyEncoding, valueEncoding)
  }

  _setEncodings (keyEncoding, valueEncoding) {
    this._ke = keyEncoding
    this._ve = valueEncoding
    this._kenc = keyEncoding.encode
    this._venc = valueEncoding.encode
    this._vdec = valueEncoding.decode
    this._vflag = valueEncoding.format === 'utf8' ? F_VAL_STR : 0
  }

  get keyEncoding () { return encodingName(this._ke) }
  get valueEncoding () { return encodingName(this._ve) }

  /** Resolves the value of `key`; rejects with code KAT_NOT_FOUND if absent. */
  get (key) {
    return this.tryGet(key).then((v) => (v === undefined ? Promise.reject(notFoundError()) : v))
  }

  /**
   * Resolves the value of `key`, or undefined if absent. Gets issued in the same tick
   * are read together on the libuv pool (one task per up to GET_CHUNK keys).
   */
  tryGet (key) {
    const db = this._db
    if (db._status !== OPEN) return Promise.reject(closedError())
    let k
    try {
      k = checkKey(this._kenc(key))
    } catch (err) {
      return Promise.reject(err)
    }
    let q = this._getq
    if (q === undefined || q === null) {
      q = this._getq = { keys: [], resolves: [], rejects: [] }
      queueMicrotask(() => this._flushGets(q))
    }
    db._pending++ // settled when this get settles: close() waits for it
    return new Promise((resolve, reject) => {
      q.keys.push(k)
      q.resolves.push(resolve)
      q.rejects.push(reject)
    })
  }

  _flushGets (q) {
    if (this._getq === q) this._getq = null
    const db = this._db
    const n = q.keys.length
    const chunk = Math.max(32, Math.min(GET_CHUNK, Math.ceil(n / 4)))
    for (let from = 0; from < n; from += chunk) {
      const to = Math.min(n, from + chunk)
      const keys = from === 0 && to === n ? q.keys : q.keys.slice(from, to)
      const settle = (fn, arg) => {
        for (let i = from; i < to; i++) {
          db._settle()
          fn(i, arg)
        }
      }
      let p
      try {
        if (db._status === CLOSED) throw closedError()
        p = binding.getMany(this._t, null, keys, this._vflag | F_RAW)
      } catch (err) {
        settle((i, e) => q.rejects[i](e), err)
        continue
      }
      p.then((raw) => {
        let values
        try {
          values = parseMany(raw, to - from, this._vflag !== 0, this._vdec)
        } catch (err) {
          settle((i, e) => q.rejects[i](e), err)
          return
        }
        settle((i) => q.resolves[i](values[i - from]))
      }, (err) => settle((i, e) => q.rejects[i](e), err))
    }
  }

  /** The value of `key`; throws with code KAT_NOT_FOUND if absent. */
  getSync (key) {
    const v = this.tryGetSync(key)
    if (v === undefined) throw notFoundError()
    return v
  }

  /** The value of `key`, or undefined if absent. */
  tryGetSync (key) {
    if (this._db._status !== OPEN) throw closedError()
    const v = fromScratch(binding.getSync(this._t, null, this._kenc(key), this._vflag | F_SCRATCH))
    return v === undefined || this._vdec === null ? v : this._vdec(v)
  }

  /** Resolves an array of values (undefined for absent keys). The keys are read one after
   * another in one pool task (not from one snapshot: use a transaction for that). */
  getMany (keys) {
    const db = this._db
    if (db._status !== OPEN) return Promise.reject(closedError())
    let p, n
    try {
      const encoded = this._encodeKeys(keys)
      n = encoded.length
      p = binding.getMany(this._t, null, encoded, this._vflag | F_RAW)
    } catch (err) {
      return Promise.reject(err)
    }
    return db._track(p).then((raw) => parseMany(raw, n, this._vflag !== 0, this._vdec))
  }

  getManySync (keys) {
    if (this._db._status !== OPEN) throw closedError()
    const encoded = this._encodeKeys(keys)
    const raw = binding.getManySync(this._t, null, encoded, this._vflag | F_RAW)
    return parseMany(raw, encoded.length, this._vflag !== 0, this._vdec)
  }

  _encodeKeys (keys) {
    if (!Array.isArray(keys)) throw invalid('keys must be an array')
    return this._kenc === identity ? keys : keys.map(this._kenc)
  }

  has (key) {
    return this._async(binding.has, key)
  }

  hasSync (key) {
    if (this._db._status !== OPEN) throw closedError()
    return binding.hasSync(this._t, null, this._kenc(key))
  }

  /**
   * Resolves when the live value of `key` expires, in milliseconds since the Unix epoch
   * (`new Date(ms)` gives the date), or 0 when it never expires; rejects with code
   * KAT_NOT_FOUND, like `get`, when the key has no live value (never written, deleted or
   * expired).
   */
  expiresAt (key) {
    return this._async(binding.expiresAt, key)
  }

  /** `expiresAt` in place: returns the expiry, throws KAT_NOT_FOUND like `getSync`. */
  expiresAtSync (key) {
    if (this._db._status !== OPEN) throw closedError()
    return binding.expiresAtSync(this._t, null, this._kenc(key))
  }

  put (key, value) {
    const db = this._db
    if (db._status !== OPEN) return Promise.reject(closedError())
    let p
    try {
      p = binding.put(this._t, null, this._kenc(key), this._venc(value))
    } catch (err) {
      return Promise.reject(err)
    }
    return db._track(p)
  }

  putSync (key, value) {
    if (this._db._status !== OPEN) throw closedError()
    binding.putSync(this._t, null, this._kenc(key), this._venc(value))
  }

  /** Puts `key` with an expiry `ttlMs` (at least 1) milliseconds from now. */
  putTTL (key, value, ttlMs) {
    const db = this._db
    if (db._status !== OPEN) return Promise.reject(closedError())
    let p
    try {
      p = binding.putTTL(this._t, null, this._kenc(key), this._venc(value), ttlMs)
    } catch (err) {
      return Promise.reject(err)
    }
    return db._track(p)
  }

  putTTLSync (key, value, ttlMs) {
    if (this._db._status !== OPEN) throw closedError()
    binding.putTTLSync(this._t, null, this._kenc(key), this._venc(value), ttlMs)
  }

  /** Removes `key`; removing an absent key succeeds. */
  delete (key) {
    return this._async(binding.del, key)
  }

  deleteSync (key) {
    if (this._db._status !== OPEN) throw closedError()
    binding.delSync(this._t, null, this._kenc(key))
  }

  del (key) { return this.delete(key) }
  delSync (key) { return this.deleteSync(key) }

  _async (fn, key) {
    const db = this._db
    if (db._status !== OPEN) return Promise.reject(closedError())
    let p
    try {
      p = fn(this._t, null, this._kenc(key))
    } catch (err) {
      return Promise.reject(err)
    }
    return db._track(p)
  }

  /**
   * With an array of operations, writes them atomically:
   * `{type: 'put', key, value, ttl?, keyspace?}` / `{type: 'del', key, keyspace?}`.
   * Without arguments, returns a chained batch.
   */
  batch (ops) {
    if (ops === undefined) return new ChainedBatch(this)
    const db = this._db
    if (db._status !== OPEN) return Promise.reject(closedError())
    let p
    try {
      p = binding.write(db._h, this._flattenOps(ops))
    } catch (err) {
      return Promise.reject(err)
    }
    return db._track(p)
  }

  batchSync (ops) {
    if (this._db._status !== OPEN) throw closedError()
    binding.writeSync(this._db._h, this._flattenOps(ops))
  }

  _flattenOps (ops) {
    if (!Array.isArray(ops)) throw invalid('batch operations must be an array')
    const flat = new Array(ops.length * 5)
    let j = 0
    for (const op of ops) {
      if (op === null || typeof op !== 'object') throw invalid('a batch operation must be an object')
      let target = this
      if (op.keyspace !== undefined && op.keyspace !== null) {
        target = op.keyspace
        if (!(target instanceof Keyspace) || target._db !== this._db) {
          throw invalid('batch: keyspace must be a Keyspace of this database')
        }
      }
      const ksHandle = target instanceof Keyspace ? target._t : null
      const key = target._kenc(op.key)
      if (op.type === 'put') {
        const ttl = op.ttl
        if (ttl !== undefined && ttl !== null) {
          flat[j++] = 2
        } else {
          flat[j++] = 0
        }
        flat[j++] = ksHandle
        flat[j++] = key
        flat[j++] = target._venc(op.value)
        flat[j++] = ttl === undefined ? null : ttl
      } else if (op.type === 'del' || op.type === 'delete') {
        flat[j++] = 1
        flat[j++] = ksHandle
        flat[j++] = key
        flat[j++] = null
        flat[j++] = null
      } else {
        throw invalid(`batch: unknown operation type '${op.type}' (put or del)`)
      }
    }
    return flat
  }

  /**
   * An async iterator over a snapshot taken now. Options: prefix, gt/gte/lt/lte (or
   * start (inclusive) / end (exclusive)), reverse, limit, keys, values.
   */
  iterator (options) {
    return this._iterator(options, 'entries')
  }

  keys (options) {
    return this._iterator(options, 'keys')
  }

  values (options) {
    return this._iterator(options, 'values')
  }

  _iterator (options, mode) {
    const db = this._db
    if (db._status !== OPEN) throw closedError()
    const r = rangeOf(this._kenc, options)
    const h = binding.iterator(this._t, null, r.prefix, r.start, r.end, r.reverse)
    return new Iterator(db, h, options, mode, this._ke, this._ve)
  }
}

// Translates Level-style range options into the C API's prefix / [start, end).
function rangeOf (kenc, options) {
  const o = options || {}
  if (typeof o !== 'object') throw invalid('iterator options must be an object')
  const enc = (v) => {
    const e = kenc(v)
    return typeof e === 'string' ? Buffer.from(e, 'utf8') : e
  }
  const successor = (b) => { // the first key after every key <= b
    const out = Buffer.allocUnsafe(b.length + 1)
    out.set(b, 0)
    out[b.length] = 0
    return out
  }
  let start = null
  let end = null
  if (o.start !== undefined && o.start !== null) start = enc(o.start)
  if (o.end !== undefined && o.end !== null) end = enc(o.end)
  // As in Level: gte wins over gt, lte over lt; all four win over start / end.
  if (o.gt !== undefined && o.gt !== null) start = successor(enc(o.gt))
  if (o.gte !== undefined && o.gte !== null) start = enc(o.gte)
  if (o.lt !== undefined && o.lt !== null) end = enc(o.lt)
  if (o.lte !== undefined && o.lte !== null) end = successor(enc(o.lte))
  const prefix = o.prefix !== undefined && o.prefix !== null ? enc(o.prefix) : null
  return { prefix, start, end, reverse: !!o.reverse }
}

// ---------------------------------------------------------------------------------------
// Database

const iteratorRegistry = new FinalizationRegistry(({ db, id }) => db._iterators.delete(id))

class DB extends KV {
  constructor (handle, location, options) {
    const o = options || {}
    super(null, handle, encodingOf(o.keyEncoding, 'keyEncoding'),
      encodingOf(o.valueEncoding, 'valueEncoding'))
    this._db = this
    this._h = handle
    this._status = OPEN
    this._pending = 0
    this._idle = null
    this._merging = 0 // merges in flight: not in _pending, close() stops them
    this._mergeIdle = null
    this._closing = null
    this._iterators = new Map() // id -> WeakRef(Iterator), for close()
    this._nextIteratorId = 1
    this.location = location
  }

  /** 'open', 'closing' or 'closed'. */
  get status () { return this._status }

  _track (p) {
    this._pending++
    return p.then((v) => {
      this._settle()
      return v
    }, (err) => {
      this._settle()
      throw err
    })
  }

  _settle () {
    if (--this._pending === 0 && this._idle !== null) {
      const resolve = this._idle
      this._idle = null
      resolve()
    }
  }

  _register (it) {
    const id = this._nextIteratorId++
    this._iterators.set(id, new WeakRef(it))
    iteratorRegistry.register(it, { db: this, id }, it)
    return id
  }

  _unregister (it) {
    this._iterators.delete(it._id)
    iteratorRegistry.unregister(it)
  }

  // Like _track for a merge: close() does not wait for merges to finish but stops them
  // (kat_db_close interrupts a merge in flight, which then rejects with KAT_CLOSED).
  _trackMerge (p) {
    this._merging++
    const done = () => {
      if (--this._merging === 0 && this._mergeIdle !== null) {
        const resolve = this._mergeIdle
        this._mergeIdle = null
        resolve()
      }
    }
    return p.then((v) => {
      done()
      return v
    }, (err) => {
      done()
      throw err
    })
  }

  /**
   * Closes the database: new calls fail with KAT_CLOSED at once; open iterators are
   * closed; a merge in flight is stopped (it rejects with KAT_CLOSED; the data stays
   * intact); the promise resolves after every other operation in flight has completed
   * and the library has synced and released the directory. Closing twice is fine.
   */
  close () {
    if (this._closing !== null) return this._closing
    this._status = CLOSING
    this._closing = (async () => {
      const closing = []
      for (const ref of this._iterators.values()) {
        const it = ref.deref()
        if (it !== undefined) closing.push(it.close())
      }
      await Promise.allSettled(closing)
      if (this._pending > 0) await new Promise((resolve) => { this._idle = resolve })
      try {
        await binding.close(this._h)
      } finally {
        // The library's close waited for the merges it stopped; let their promises settle.
        if (this._merging > 0) await new Promise((resolve) => { this._mergeIdle = resolve })
        this._status = CLOSED
      }
    })()
    return this._closing
  }

  /** Forces everything written so far onto stable storage. */
  sync () {
    if (this._status !== OPEN) return Promise.reject(closedError())
    return this._track(binding.flush(this._h))
  }

  syncSync () {
    if (this._status !== OPEN) throw closedError()
    binding.flushSync(this._h)
  }

  /**
   * Counters: liveKeys, liveBytes, deadBytes, totalBytes, segments, keydirBytes, lastSeq,
   * merges, mergeFailures.
   */
  stats () {
    if (this._status !== OPEN) return Promise.reject(closedError())
    return this._track(binding.stats(this._h))
  }

  statsSync () {
    if (this._status !== OPEN) throw closedError()
    return binding.statsSync(this._h)
  }

  /**
   * Compacts the database now (reads and writes go on meanwhile): rewrites the live data
   * into merged segments and removes the old ones. Resolves {inputSegments, inputBytes,
   * outputSegments, outputBytes, records, expired, millis}. close() stops a merge in
   * flight: it then rejects with KAT_CLOSED.
   */
  merge () {
    if (this._status !== OPEN) return Promise.reject(closedError())
    let p
    try {
      p = binding.merge(this._h)
    } catch (err) {
      return Promise.reject(err)
    }
    return this._trackMerge(p)
  }

  mergeSync () {
    if (this._status !== OPEN) throw closedError()
    return binding.mergeSync(this._h)
  }

  /**
   * Writes a consistent copy of the database (every commit up to now) into the new
   * directory `dest` (it must not exist; its parent must) while the database stays in
   * use. Resolves {seq, segments, bytes, linked}: the copy opens at commit `seq`.
   */
  backup (dest) {
    if (this._status !== OPEN) return Promise.reject(closedError())
    let p
    try {
      p = binding.backup(this._h, dest)
    } catch (err) {
      return Promise.reject(err)
    }
    return this._track(p)
  }

  backupSync (dest) {
    if (this._status !== OPEN) throw closedError()
    return binding.backupSync(this._h, dest)
  }

  /**
   * Checks every checksum and hint file, changing nothing. Damage is reported in the
   * result, not as a rejection: {clean, segments, batches, records, bytes, hintsOk,
   * hintsBad, damaged, firstBadSegment, firstBadOffset, firstBadReason}.
   */
  verify () {
    if (this._status !== OPEN) return Promise.reject(closedError())
    return this._track(binding.verify(this._h))
  }

  verifySync () {
    if (this._status !== OPEN) throw closedError()
    return binding.verifySync(this._h)
  }

  /** Opens (creating if missing) keyspace `name`; its encodings default to the database's. */
  keyspace (name, options) {
    if (this._status !== OPEN) throw closedError()
    const o = options || {}
    const ke = o.keyEncoding === undefined ? this._ke : encodingOf(o.keyEncoding, 'keyEncoding')
    const ve = o.valueEncoding === undefined ? this._ve : encodingOf(o.valueEncoding, 'valueEncoding')
    const h = binding.keyspaceOpen(this._h, name)
    return new Keyspace(this, h, name, ke, ve)
  }

  /** Drops keyspace `name` and all its keys; rejects with KAT_NOT_FOUND if missing. */
  dropKeyspace (name) {
    if (this._status !== OPEN) return Promise.reject(closedError())
    let p
    try {
      p = binding.keyspaceDrop(this._h, name)
    } catch (err) {
      return Promise.reject(err)
    }
    return this._track(p)
  }

  dropKeyspaceSync (name) {
    if (this._status !== OPEN) throw closedError()
    binding.keyspaceDropSync(this._h, name)
  }

  /** Resolves the keyspace names, sorted (UTF-8 decoded). */
  keyspaces () {
    if (this._status !== OPEN) return Promise.reject(closedError())
    return this._track(binding.keyspaceList(this._h)).then((names) => names.map(String))
  }

  keyspacesSync () {
    if (this._status !== OPEN) throw closedError()
    return binding.keyspaceListSync(this._h).map(String)
  }

  /** Starts a transaction: `{readOnly, serializable}`. */
  begin (options) {
    if (this._status !== OPEN) throw closedError()
    return this._begin(options || {}, false)
  }

  _begin (o, managed) {
    const flags = (o.readOnly ? TXN_READ_ONLY : 0) | (o.serializable ? TXN_SERIALIZABLE : 0)
    return new Transaction(this, binding.txnBegin(this._h, flags), o, managed)
  }

  /**
   * Runs `fn(tx)` in a transaction and commits it when `fn` resolves (unless `fn`
   * committed or aborted it), aborts it when `fn` throws. On KAT_CONFLICT, runs `fn`
   * again in a fresh transaction up to `retries` times (default 0). Resolves what `fn`
   * resolved. The whole run counts as one operation in flight: close() waits for it,
   * and its transaction's calls keep working while the database is closing.
   */
  async transaction (fn, options) {
    if (typeof fn !== 'function') throw invalid('transaction: fn must be a function')
    if (this._status !== OPEN) throw closedError()
    const o = options || {}
    const retries = o.retries === undefined ? 0 : o.retries
    if (!Number.isInteger(retries) || retries < 0) throw invalid('retries must be a non-negative integer')
    this._pending++
    try {
      for (let attempt = 0; ; attempt++) {
        if (this._status === CLOSED) throw closedError()
        const tx = this._begin(o, true)
        let out
        try {
          out = await fn(tx)
        } catch (err) {
          tx._abortQuietly()
          if (err && err.code === 'KAT_CONFLICT' && attempt < retries) continue
          throw err
        }
        if (tx.status === 'open') {
          try {
            await tx.commit()
          } catch (err) {
            if (err && err.code === 'KAT_CONFLICT' && attempt < retries) continue
            throw err
          }
        }
        return out
      }
    } finally {
      this._settle()
    }
  }
}

// ---------------------------------------------------------------------------------------
// Keyspaces

class Keyspace extends KV {
  constructor (db, handle, name, ke, ve) {
    super(db, handle, ke, ve)
    this.name = typeof name === 'string' ? name : Buffer.from(name).toString()
    this.db = db
  }
}

// ---------------------------------------------------------------------------------------
// Chained batch

class ChainedBatch {
  constructor (kv) {
    this._kv = kv
    this._ops = []
  }

  get length () { return this._ops.length }

  put (key, value, options) {
    const op = { type: 'put', key, value }
    if (options && options.ttl !== undefined) op.ttl = options.ttl
    if (options && options.keyspace !== undefined) op.keyspace = options.keyspace
    this._ops.push(op)
    return this
  }

  del (key, options) {
    const op = { type: 'del', key }
    if (options && options.keyspace !== undefined) op.keyspace = options.keyspace
    this._ops.push(op)
    return this
  }

  delete (key, options) { return this.del(key, options) }

  clear () {
    this._ops = []
    return this
  }

  write () {
    const ops = this._ops
    this._ops = []
    return this._kv.batch(ops)
  }

  writeSync () {
    const ops = this._ops
    this._ops = []
    this._kv.batchSync(ops)
  }
}

// ---------------------------------------------------------------------------------------
// Transactions

class TransactionView {
  constructor (tx, ks) {
    if (tx !== null) this._init(tx, ks)
  }

  _init (tx, ks) {
    this._tx = tx
    this._ks = ks // Keyspace or null
    const enc = ks || tx._db
    this._ke = enc._ke
    this._ve = enc._ve
    this._kenc = enc._kenc
    this._venc = enc._venc
    this._vdec = enc._vdec
    this._vflag = enc._vflag
    this._ksh = ks ? ks._t : null
  }

  _check () {
    const status = this._tx._db._status
    if (status !== OPEN && (status === CLOSED || !this._tx._managed)) throw closedError()
  }

  _wrap (fn) {
    try {
      this._check()
      return this._tx._db._track(fn())
    } catch (err) {
      return Promise.reject(err)
    }
  }

  /** Resolves the value in the transaction's view; rejects with KAT_NOT_FOUND if absent. */
  get (key) {
    return this.tryGet(key).then((v) => (v === undefined ? Promise.reject(notFoundError()) : v))
  }

  tryGet (key) {
    return this._wrap(() => binding.get(this._tx._h, this._ksh, this._kenc(key), this._vflag))
      .then((v) => (v === undefined || this._vdec === null ? v : this._vdec(v)))
  }

  getSync (key) {
    const v = this.tryGetSync(key)
    if (v === undefined) throw notFoundError()
    return v
  }

  tryGetSync (key) {
    this._check()
    const v = fromScratch(binding.getSync(this._tx._h, this._ksh, this._kenc(key), this._vflag | F_SCRATCH))
    return v === undefined || this._vdec === null ? v : this._vdec(v)
  }

  has (key) {
    return this._wrap(() => binding.has(this._tx._h, this._ksh, this._kenc(key)))
  }

  hasSync (key) {
    this._check()
    return binding.hasSync(this._tx._h, this._ksh, this._kenc(key))
  }

  // Writes only buffer in the transaction (no I/O), so the async forms run them in place
  // and return a settled promise.
  put (key, value) {
    try {
      this.putSync(key, value)
      return Promise.resolve()
    } catch (err) {
      return Promise.reject(err)
    }
  }

  putSync (key, value) {
    this._check()
    binding.putSync(this._tx._h, this._ksh, this._kenc(key), this._venc(value))
  }

  putTTL (key, value, ttlMs) {
    try {
      this.putTTLSync(key, value, ttlMs)
      return Promise.resolve()
    } catch (err) {
      return Promise.reject(err)
    }
  }

  putTTLSync (key, value, ttlMs) {
    this._check()
    binding.putTTLSync(this._tx._h, this._ksh, this._kenc(key), this._venc(value), ttlMs)
  }

  delete (key) {
    try {
      this.deleteSync(key)
      return Promise.resolve()
    } catch (err) {
      return Promise.reject(err)
    }
  }

  deleteSync (key) {
    this._check()
    binding.delSync(this._tx._h, this._ksh, this._kenc(key))
  }

  del (key) { return this.delete(key) }
  delSync (key) { return this.deleteSync(key) }

  /** An iterator over the transaction's view (its snapshot plus its writes so far). */
  iterator (options) { return this._iterator(options, 'entries') }
  keys (options) { return this._iterator(options, 'keys') }
  values (options) { return this._iterator(options, 'values') }

  _iterator (options, mode) {
    this._check()
    const r = rangeOf(this._kenc, options)
    const h = binding.iterator(this._tx._h, this._ksh, r.prefix, r.start, r.end, r.reverse)
    return new Iterator(this._tx._db, h, options, mode, this._ke, this._ve)
  }
}

class Transaction extends TransactionView {
  constructor (db, handle, options, managed) {
    super(null, null)
    this._tx = this
    this._db = db
    this._managed = managed // run by db.transaction(): usable while the database closes
    this._h = handle
    this._status = 'open'
    this.readOnly = !!options.readOnly
    this.serializable = !!options.serializable
    this._init(this, null)
  }

  /** 'open', 'committed' or 'aborted'. */
  get status () { return this._status }

  /** A view of this transaction in keyspace `ks` (a Keyspace or a keyspace name). */
  keyspace (ks) {
    if (typeof ks === 'string' || ks instanceof Uint8Array) ks = this._db.keyspace(ks)
    if (!(ks instanceof Keyspace) || ks._db !== this._db) {
      throw invalid('transaction.keyspace: expected a Keyspace of this database or a name')
    }
    return new TransactionView(this, ks)
  }

  /** Commits; rejects with KAT_CONFLICT (nothing written) if another commit won. */
  commit () {
    let p
    try {
      this._check()
      p = binding.commit(this._h)
    } catch (err) {
      return Promise.reject(err)
    }
    this._status = 'committed'
    return this._db._track(p).catch((err) => {
      this._status = 'aborted'
      throw err
    })
  }

  commitSync () {
    this._check()
    this._status = 'committed'
    try {
      binding.commitSync(this._h)
    } catch (err) {
      this._status = 'aborted'
      throw err
    }
  }

  abort () {
    try {
      this.abortSync()
      return Promise.resolve()
    } catch (err) {
      return Promise.reject(err)
    }
  }

  abortSync () {
    this._check()
    binding.abort(this._h)
    this._status = 'aborted'
  }

  _abortQuietly () {
    if (this._status !== 'open') return
    this._status = 'aborted'
    try { binding.abort(this._h) } catch {}
  }
}

// ---------------------------------------------------------------------------------------
// Iterators

class Iterator {
  constructor (db, handle, options, mode, ke, ve) {
    const o = options || {}
    this._db = db
    this._h = handle
    this._mode = mode
    this._kdec = ke.decode
    this._vdec = ve.decode
    let flags = (ke.format === 'utf8' ? F_KEY_STR : 0) | (ve.format === 'utf8' ? F_VAL_STR : 0)
    // keys / values options apply to entries; keys() and values() ignore them.
    if (mode === 'keys' || (mode === 'entries' && o.values === false)) flags |= F_NO_VALUES
    if (mode === 'values' || (mode === 'entries' && o.keys === false)) flags |= F_NO_KEYS
    this._flags = flags | F_RAW
    this._kstr = ke.format === 'utf8'
    this._vstr = ve.format === 'utf8'
    const limit = o.limit === undefined || o.limit === null || o.limit < 0 ? Infinity : o.limit
    if (typeof limit !== 'number' || Number.isNaN(limit)) throw invalid('limit must be a number')
    this._left = limit
    this._size = ITER_MIN_BATCH
    this._buf = EMPTY // the current batch, as kat_iter_next_batch encodes it
    this._pos = 0 // offset of the next entry in it
    this._want = 0 // entries the current batch asked for (see prevSync)
    this._ended = false // the native iterator reported the end
    this._closed = false
    this._inflight = 0 // calls queued or running
    this._chain = Promise.resolve()
    this._seekTo = undefined
    this._gen = 0
    this._kencForSeek = ke.encode
    this._id = db._register(this)
  }

  get closed () { return this._closed }

  _entry () {
    this._left--
    return this._decode()
  }

  // Decodes the entry at _pos and moves _pos past it.
  _decode () {
    // Entry: key length (u32 LE), value length (u32 LE), key bytes, value bytes.
    const raw = this._buf
    let p = this._pos
    const kl = raw.readUInt32LE(p)
    const vl = raw.readUInt32LE(p + 4)
    p += 8
    const flags = this._flags
    let k, v
    if (!(flags & F_NO_KEYS)) k = this._kstr ? raw.toString('utf8', p, p + kl) : copyOut(raw, p, p + kl)
    p += kl
    if (!(flags & F_NO_VALUES)) v = this._vstr ? raw.toString('utf8', p, p + vl) : copyOut(raw, p, p + vl)
    this._pos = p + vl
    if (this._mode === 'keys') return this._kdec === null ? k : this._kdec(k)
    if (this._mode === 'values') return this._vdec === null ? v : this._vdec(v)
    return [
      k === undefined || this._kdec === null ? k : this._kdec(k),
      v === undefined || this._vdec === null ? v : this._vdec(v)
    ]
  }

  _available () {
    return this._pos < this._buf.length && this._left > 0 && this._seekTo === undefined
  }

  _checkOpen () {
    if (this._closed) return closedError('the iterator')
    if (this._db._status !== OPEN) return closedError()
    return null
  }

  _fetchArgs () {
    const want = Math.min(this._size, this._left)
    if (this._size < ITER_MAX_BATCH) this._size *= 2
    this._want = want
    return want
  }

  _applySeek () {
    if (this._seekTo !== undefined) {
      const target = this._seekTo
      this._seekTo = undefined
      binding.iterSeek(this._h, target)
      this._buf = EMPTY
      this._pos = 0
      this._ended = false
    }
  }

  async _fill () {
    for (;;) {
      this._applySeek()
      const gen = this._gen
      const arr = await this._db._track(
        binding.iterNext(this._h, this._fetchArgs(), ITER_MAX_BYTES, this._flags))
      if (gen !== this._gen) continue // a seek came in while fetching: refetch from there
      if (arr === undefined) {
        this._ended = true
        this._buf = EMPTY
      } else {
        this._buf = arr
      }
      this._pos = 0
      return
    }
  }

  async _next () {
    const err = this._checkOpen()
    if (err) throw err
    if (this._left <= 0) return undefined
    if (!this._available()) {
      if (this._ended && this._seekTo === undefined) return undefined
      await this._fill()
      if (this._pos >= this._buf.length) return undefined
    }
    return this._entry()
  }

  // Runs `fn` now when nothing is in flight (so a fetch asked for before db.close() is
  // under way before the close looks), else after the calls before it.
  _enqueue (fn) {
    const p = this._inflight === 0 ? fn() : this._chain.then(fn)
    this._inflight++
    const done = () => { this._inflight-- }
    this._chain = p.then(done, done)
    return p
  }

  /** Resolves the next entry ([key, value], or a key / value for keys() / values()),
   * or undefined at the end. */
  next () {
    if (this._inflight === 0 && this._available()) {
      const err = this._checkOpen()
      if (err) return Promise.reject(err)
      return Promise.resolve(this._entry())
    }
    return this._enqueue(() => this._next())
  }

  /** Like next(), on the calling thread; throws if an async call is in flight. */
  nextSync () {
    const err = this._checkOpen()
    if (err) throw err
    if (this._inflight > 0) throw katError('KAT_INVALID_ARGUMENT', 'the iterator has an async call in flight')
    if (this._left <= 0) return undefined
    if (!this._available()) {
      if (this._ended && this._seekTo === undefined) return undefined
      this._applySeek()
      const arr = binding.iterNextSync(this._h, this._fetchArgs(), ITER_MAX_BYTES, this._flags)
      this._pos = 0
      if (arr === undefined) {
        this._ended = true
        this._buf = EMPTY
        return undefined
      }
      this._buf = arr
    }
    return this._entry()
  }

  /** Moves back to the entry before the one last returned and returns it (in the shape
   * next() uses), or undefined before the first entry; on the calling thread. After the
   * end (next() gave undefined) it returns the last entry; next() then continues after
   * the entry prev returned. Entries it returns do not count toward `limit`. Throws if
   * an async call is in flight. */
  prevSync () {
    const err = this._checkOpen()
    if (err) throw err
    if (this._inflight > 0) throw katError('KAT_INVALID_ARGUMENT', 'the iterator has an async call in flight')
    return this._prev()
  }

  _prev () {
    this._applySeek()
    // The C cursor is where the entries the caller has been given end, unless a batch
    // is buffered: then kat_iter_next_batch left it on the batch's last entry, or past
    // the end when the batch stopped because the entries ran out.
    let steps = 1
    const raw = this._buf
    if (raw.length > 0) {
      // Offsets of the buffered entries; the caller's current one ends at _pos.
      const offs = []
      let p = 0
      while (p < raw.length) {
        offs.push(p)
        p += 8 + raw.readUInt32LE(p) + raw.readUInt32LE(p + 4)
      }
      const n = offs.length
      let cur = n - 1 // index of the current entry (-1: the one before the batch)
      for (let i = 0; i < n; i++) {
        if (offs[i] === this._pos) { cur = i - 1; break }
      }
      if (cur >= 1) {
        // The entry before is still buffered; the C cursor stays put.
        this._pos = offs[cur - 1]
        return this._decode()
      }
      const pastEnd = n < this._want && raw.length < ITER_MAX_BYTES
      steps = n - cur + (pastEnd ? 1 : 0)
    }
    const one = binding.iterPrev(this._h, steps)
    this._ended = false
    this._size = 1 // a cursor moving back and forth gains little from large batches
    this._want = 1
    this._pos = 0
    if (one === undefined) {
      this._buf = EMPTY
      return undefined
    }
    this._buf = one
    return this._decode()
  }

  /** Resolves what prevSync() returns, after the calls before it. */
  prev () {
    return this._enqueue(async () => {
      const err = this._checkOpen()
      if (err) throw err
      return this._prev()
    })
  }

  /** Resolves up to `size` entries (fewer at the end; [] once exhausted). */
  nextv (size) {
    if (!Number.isInteger(size) || size < 1) return Promise.reject(invalid('size must be a positive integer'))
    return this._enqueue(async () => {
      const out = []
      while (out.length < size) {
        const e = await this._next()
        if (e === undefined) break
        out.push(e)
      }
      return out
    })
  }

  /** Resolves every remaining entry, then closes the iterator. */
  async all () {
    try {
      const out = []
      for (;;) {
        const chunk = await this.nextv(ITER_MAX_BATCH)
        if (chunk.length === 0) return out
        for (const e of chunk) out.push(e)
      }
    } finally {
      await this.close()
    }
  }

  /** Moves so the next entry is the first at or after `target` (at or before, reversed). */
  seek (target) {
    const err = this._checkOpen()
    if (err) throw err
    const t = this._kencForSeek(target)
    if (t === undefined || t === null) throw invalid('seek target must not be null')
    this._seekTo = t
    this._gen++
  }

  /** Frees the native iterator (and its snapshot) after any fetch in flight. */
  close () {
    if (!this._closed) {
      this._closed = true
      binding.iterClose(this._h)
      this._db._unregister(this)
    }
    return this._chain.then(() => {})
  }

  async * [Symbol.asyncIterator] () {
    try {
      for (;;) {
        const e = await this.next()
        if (e === undefined) return
        yield e
      }
    } finally {
      await this.close()
    }
  }
}

// ---------------------------------------------------------------------------------------
// Opening

function openArgs (location, options) {
  if (typeof location !== 'string' || location === '') throw invalid('location must be a non-empty string')
  const o = options || {}
  if (typeof o !== 'object') throw invalid('options must be an object')
  const sync = o.sync === undefined ? 'always' : o.sync
  if (!Object.prototype.hasOwnProperty.call(SYNC_MODES, sync)) {
    throw invalid("sync must be 'always', 'interval' or 'never'")
  }
  const interval = o.syncIntervalMs === undefined ? (sync === 'interval' ? 100 : 0) : o.syncIntervalMs
  // autoMerge: undefined / null keeps the library's policy; false turns it off.
  let ratio = null
  let minDeadBytes = 0
  const am = o.autoMerge
  if (am === false) {
    ratio = 0
  } else if (am !== undefined && am !== null) {
    if (typeof am !== 'object') throw invalid('autoMerge must be false or {deadRatio, minDeadBytes}')
    if (typeof am.deadRatio !== 'number') throw invalid('autoMerge.deadRatio must be a number')
    ratio = am.deadRatio
    minDeadBytes = am.minDeadBytes
  }
  // Validate encodings before touching the directory.
  encodingOf(o.keyEncoding, 'keyEncoding')
  encodingOf(o.valueEncoding, 'valueEncoding')
  return [location, SYNC_MODES[sync], interval,
    o.segmentSize === undefined ? null : o.segmentSize,
    !!o.salvage, o.createIfMissing === undefined ? true : !!o.createIfMissing,
    ratio, minDeadBytes]
}

/**
 * Opens (by default creating) the database in directory `location`, synchronously.
 * Options: sync ('always' | 'interval' | 'never'), syncIntervalMs, segmentSize, salvage,
 * autoMerge ({deadRatio, minDeadBytes} or false), createIfMissing, keyEncoding,
 * valueEncoding.
 */
function open (location, options) {
  const h = binding.open(...openArgs(location, options))
  return new DB(h, location, options)
}

/** Like open(), with the opening (recovery included) on the libuv pool. */
function openAsync (location, options) {
  let p
  try {
    p = binding.openAsync(...openArgs(location, options))
  } catch (err) {
    return Promise.reject(err)
  }
  return p.then((h) => new DB(h, location, options))
}

function version () {
  return binding.version()
}

module.exports = {
  open,
  openAsync,
  DB,
  Keyspace,
  Transaction,
  TransactionView,
  Iterator,
  ChainedBatch,
  codes,
  statusString,
  version,
  versionNumber: binding.versionNumber,
  encodings: builtinEncodings
}

// For level.js: not part of the public API.
Object.defineProperty(module.exports, '_internal', {
  value: { withEncodings, encodingOf }
})

// The abstract-level adapter needs the abstract-level package; load it lazily.
Object.defineProperty(module.exports, 'KatamariLevel', {
  enumerable: true,
  get () { return require('./level.js').KatamariLevel }
})
