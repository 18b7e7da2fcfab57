// Pure pieces of the distributed engine: the file-list codec, fingerprints, the zip writer, run names.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import type { FileRef } from '../../../src/transfer/core/types.ts'
import { decodeFileChunk, encodeFileChunk, fingerprintOf, FileList, sortForList } from '../../../src/transfer/distributed/redis/file-list.ts'
import { createZip } from '../../../src/transfer/distributed/lambda/zip-writer.ts'
import { packageOf } from '../../../src/transfer/distributed/lambda/package.ts'
import { deriveRunName } from '../../../src/transfer/distributed/run-config.ts'
import { crawlSynthetic } from '../../../support/transfer-synthetic.ts'
import { indicesOf } from '../../../src/transfer/wire-format.ts'

test('file-list chunks round-trip every field, escapes included', () => {
  const files: FileRef[] = [
    { source: 'https://cdn.example.com/lib/c1/master.m3u8', key: 'lib/c1/master.m3u8', kind: 'master' },
    { source: 'https://cdn.example.com/lib/c1/v0/index.m3u8?token=a\tb', key: 'lib/c1/v0/index.m3u8', kind: 'media' },
    { source: 's3://bucket/lib/c1/v0/seg 1.ts', key: 'lib/c1/v0/seg 1.ts', kind: 'object', size: 1234567, etag: '"abc\\def"' },
    { source: 'file:///data/x\ny', key: 'x\ny', kind: 'key', size: 0 },
    { source: 'https://cdn.example.com/lib/c1/v0/init.mp4', key: 'lib/c1/v0/init.mp4', kind: 'init', etag: 'e' },
  ]
  assert.deepEqual(decodeFileChunk(encodeFileChunk(files)), files)
  assert.deepEqual(decodeFileChunk(encodeFileChunk([])), [])
  const list = FileList.fromChunks([encodeFileChunk(files.slice(0, 2)), encodeFileChunk(files.slice(2))])
  assert.equal(list.length, 5)
  assert.equal(list.indexOf('lib/c1/v0/seg 1.ts'), 2)
  assert.equal(list.indexOf('nope'), undefined)
})

test('an HLS-shaped file list costs a few bytes per file once front-coded and deflated', () => {
  const { files } = crawlSynthetic({ id: 'c00042', source: 'synthetic:class/c00042?files=5000&variants=16' })
  const bytes = encodeFileChunk(sortForList(files)).length
  assert.equal(files.length, 5000)
  assert.ok(bytes / files.length < 2, `${(bytes / files.length).toFixed(2)} B/file`)
})

test('fingerprints change with etag or size and are never 0 when known', () => {
  assert.equal(fingerprintOf(undefined, undefined), 0)
  assert.notEqual(fingerprintOf('a', 1), fingerprintOf('a', 2))
  assert.notEqual(fingerprintOf('a', 1), fingerprintOf('b', 1))
  assert.equal(fingerprintOf('a', 1), fingerprintOf('a', 1))
  assert.notEqual(fingerprintOf(undefined, 0), 0)
})

test('the zip writer makes archives unzip accepts, stored and deflated, with modes', async () => {
  const zip = createZip([
    { name: 'index.mjs', data: Buffer.from('export const x = 1\n'.repeat(50)) },
    { name: 'dir/random.bin', data: Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 7919) % 251)) },
    { name: 'bin/tool', data: Buffer.from('#!/bin/sh\necho hi\n'), mode: 0o100755 },
    { name: 'empty', data: Buffer.alloc(0) },
  ])
  const file = path.join(os.tmpdir(), `colony-zip-${process.pid}.zip`)
  await writeFile(file, zip)
  try {
    const run = promisify(execFile)
    await run('unzip', ['-tq', file])
    const { stdout } = await run('unzip', ['-p', file, 'index.mjs'])
    assert.equal(stdout, 'export const x = 1\n'.repeat(50))
    const { stdout: listing } = await run('unzip', ['-Z', file])
    assert.match(listing, /-rwxr-xr-x.*bin\/tool/)
  } finally {
    await rm(file, { force: true })
  }
})

test('lambda packaging names the package of each bundled input file', () => {
  assert.equal(packageOf('node_modules/undici/lib/dispatcher/client-h1.js'), 'undici')
  assert.equal(packageOf('node_modules/@aws-sdk/client-s3/dist-es/index.js'), '@aws-sdk/client-s3')
  assert.equal(packageOf('node_modules/@smithy/util/node_modules/tslib/tslib.es6.mjs'), 'tslib')
  assert.equal(packageOf('src/transfer/distributed/lambda/handler.ts'), undefined)
})

test('run names are stable per sources+destination and differ otherwise', () => {
  const a = deriveRunName(['https://cdn.example.com/catalog.json'], 's3://b/p')
  assert.equal(a, deriveRunName(['https://cdn.example.com/catalog.json'], 's3://b/p'))
  assert.notEqual(a, deriveRunName(['https://cdn.example.com/catalog.json'], 's3://b/q'))
  assert.match(a, /^[\w.@-]+$/)
})

test('copy jobs name files by range or by index list', () => {
  assert.deepEqual(indicesOf({ r: 'r', c: 'c', s: 3, e: 6, a: 0 }), [3, 4, 5])
  assert.deepEqual(indicesOf({ r: 'r', c: 'c', i: [9, 2], a: 1 }), [9, 2])
})
