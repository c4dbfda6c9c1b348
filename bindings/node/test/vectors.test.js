'use strict'
// The cross-language vectors (tests/vectors/kv.json), each case through the Promise API
// and through the sync API. While the shared file does not exist, a local sample in the
// same format runs and the shared run is skipped with a message.

const { test } = require('node:test')
const fs = require('node:fs')
const { runCase, load, SHARED, SAMPLE } = require('../tools/vectors')
const { tmpdir } = require('./helpers')

function suite (file, label) {
  for (const c of load(file)) {
    for (const mode of ['async', 'sync']) {
      test(`${label}: ${c.name} (${mode})`, () => runCase(c, tmpdir(), mode))
    }
  }
}

if (fs.existsSync(SHARED)) {
  suite(SHARED, 'kv.json')
} else {
  test('kv.json', { skip: `${SHARED} does not exist yet: ran the local sample only` }, () => {})
}
suite(SAMPLE, 'sample')
