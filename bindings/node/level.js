'use strict'

// KatamariLevel: an abstract-level database on Katamari, so the Level ecosystem
// (sublevels, level-read-stream, ...) works on it. Follows Level semantics: get of a
// missing key resolves undefined; errors of open/close are wrapped by abstract-level
// (LEVEL_DATABASE_NOT_OPEN, ...) with the Katamari error as `cause`.
//
//   const { KatamariLevel } = require('katamari')
//   const db = new KatamariLevel('./data', { valueEncoding: 'json', sync: 'never' })
//
// Besides abstract-level's options: sync, syncIntervalMs, segmentSize, salvage, autoMerge. The
// Katamari database behind it (for transactions, keyspaces, stats) is `db.katamari` once
// open. Explicit snapshots (db.snapshot()) are read-only Katamari transactions.

const fs = require('node:fs')
const {
  AbstractLevel,
  AbstractIterator,
  AbstractKeyIterator,
  AbstractValueIterator,
  AbstractSnapshot
} = require('abstract-level')
const katamari = require('./index.js')

const { withEncodings, encodingOf } = katamari._internal
const FORMATS = { buffer: encodingOf('buffer'), utf8: encodingOf('utf8') }

function format (name) {
  // abstract-level hands the private API 'buffer', 'utf8' or 'view' (as declared in the
  // manifest, only the first two).
  return FORMATS[name] || FORMATS.buffer
}

// The per-call view of a Katamari database / transaction with the given formats.
function view (target, options) {
  return withEncodings(target, format(options.keyEncoding), format(options.valueEncoding))
}

function rangeOptions (options) {
  const o = {}
  for (const k of ['gt', 'gte', 'lt', 'lte']) if (options[k] !== undefined) o[k] = options[k]
  o.reverse = !!options.reverse
  if (Number.isInteger(options.limit) && options.limit >= 0) o.limit = options.limit
  if (options.keys === false) o.keys = false
  if (options.values === false) o.values = false
  return o
}

class KatamariSnapshot extends AbstractSnapshot {
  constructor (options, db) {
    super(options)
    this.tx = db.begin({ readOnly: true })
  }

  async _close () {
    this.tx.abortSync()
  }
}

function mixIterator (Base, mode) {
  return class extends Base {
    #it = null
    #err = null

    constructor (db, options, source) {
      super(db, options)
      const src = view(source, options)
      const range = rangeOptions(options)
      try {
        this.#it = mode === 'keys' ? src.keys(range) : mode === 'values' ? src.values(range) : src.iterator(range)
      } catch (err) {
        // E.g. on a closed snapshot: abstract-level reports that at the first read
        // (LEVEL_SNAPSHOT_NOT_OPEN); this error comes only if it does not.
        this.#err = err
      }
    }

    #check () {
      if (this.#err !== null) throw this.#err
      return this.#it
    }

    async _next () {
      return this.#check().next()
    }

    async _nextv (size) {
      return this.#check().nextv(size)
    }

    _seek (target) {
      this.#check().seek(target)
    }

    async _close () {
      if (this.#it !== null) await this.#it.close()
    }
  }
}

const KatamariIterator = mixIterator(AbstractIterator, 'entries')
const KatamariKeyIterator = mixIterator(AbstractKeyIterator, 'keys')
const KatamariValueIterator = mixIterator(AbstractValueIterator, 'values')

class KatamariLevel extends AbstractLevel {
  #location
  #options
  #db = null

  constructor (location, options) {
    if (typeof location !== 'string' || location === '') {
      throw new TypeError("The first argument 'location' must be a non-empty string")
    }
    // Katamari's own options stay here: abstract-level forwards the rest to open().
    const { sync, syncIntervalMs, segmentSize, salvage, autoMerge, ...rest } = options || {}
    super({
      encodings: { buffer: true, utf8: true },
      seek: true,
      createIfMissing: true,
      errorIfExists: true,
      has: true,
      getSync: true,
      implicitSnapshots: true,
      explicitSnapshots: true,
      permanence: true,
      additionalMethods: {}
    }, rest)
    this.#location = location
    this.#options = { sync, syncIntervalMs, segmentSize, salvage, autoMerge }
  }

  get location () {
    return this.#location
  }

  /** The Katamari database behind this one (while open). */
  get katamari () {
    return this.#db
  }

  async _open (options) {
    if (!options.createIfMissing && !fs.existsSync(this.#location)) {
      const err = new Error(`Database directory ${this.#location} does not exist (createIfMissing is false)`)
      err.code = 'KAT_IO'
      throw err
    }
    if (options.errorIfExists && fs.existsSync(this.#location) &&
        fs.readdirSync(this.#location).some((f) => f !== 'LOCK')) {
      const err = new Error(`Database already exists: ${this.#location}`)
      err.code = 'LEVEL_DATABASE_EXISTS'
      throw err
    }
    this.#db = await katamari.openAsync(this.#location, {
      ...this.#options,
      createIfMissing: options.createIfMissing
    })
  }

  async _close () {
    if (this.#db !== null) {
      const db = this.#db
      this.#db = null
      await db.close()
    }
  }

  #source (options) {
    return options.snapshot != null ? options.snapshot.tx : this.#db
  }

  async _get (key, options) {
    return view(this.#source(options), options).tryGet(key)
  }

  _getSync (key, options) {
    return view(this.#source(options), options).tryGetSync(key)
  }

  async _getMany (keys, options) {
    const src = this.#source(options)
    if (src === this.#db) return view(src, options).getMany(keys)
    const v = view(src, options)
    return keys.map((k) => v.tryGetSync(k))
  }

  async _has (key, options) {
    return view(this.#source(options), options).has(key)
  }

  async _hasMany (keys, options) {
    const v = view(this.#source(options), options)
    return Promise.all(keys.map((k) => v.has(k)))
  }

  async _put (key, value, options) {
    return view(this.#db, options).put(key, value)
  }

  async _del (key, options) {
    return view(this.#db, options).delete(key)
  }

  async _batch (operations, options) {
    // Keys and values arrive encoded (Buffer, Uint8Array or string): bytes as they are.
    const ops = operations.map((op) => (op.type === 'put'
      ? { type: 'put', key: op.key, value: op.value }
      : { type: 'del', key: op.key }))
    return this.#db.batch(ops)
  }

  async _clear (options) {
    // Deletes in batches of 1000 keys read from one snapshot (the iterator's).
    const it = view(this.#source(options), { keyEncoding: 'buffer', valueEncoding: 'buffer' })
      .keys(rangeOptions(options))
    try {
      for (;;) {
        const keys = await it.nextv(1000)
        if (keys.length === 0) break
        await this.#db.batch(keys.map((key) => ({ type: 'del', key })))
      }
    } finally {
      await it.close()
    }
  }

  _iterator (options) {
    return new KatamariIterator(this, options, this.#source(options))
  }

  _keys (options) {
    return new KatamariKeyIterator(this, options, this.#source(options))
  }

  _values (options) {
    return new KatamariValueIterator(this, options, this.#source(options))
  }

  _snapshot (options) {
    return new KatamariSnapshot(options, this.#db)
  }
}

module.exports = { KatamariLevel }
