// colony/transfer exports exactly what docs/transfer.md "## API" lists, and its values load.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import * as api from '../../src/transfer/index.ts'

test('the transfer index exports exactly the names docs/transfer.md lists under ## API', async () => {
  const doc = await readFile(new URL('../../docs/transfer.md', import.meta.url), 'utf8')
  const section = doc.split('\n## API\n')[1]?.split('\n## ')[0] ?? ''
  const documented = [...section.matchAll(/^- `(\w+)/gm)].map((m) => m[1]).sort()
  const index = await readFile(new URL('../../src/transfer/index.ts', import.meta.url), 'utf8')
  const exported = [...index.matchAll(/^export (?:type )?\{([^}]*)\}/gm)]
    .flatMap((m) => (m[1] ?? '').split(',').map((n) => n.trim().replace(/^type /, ''))).filter(Boolean).sort()
  assert.deepEqual(exported, documented)
  for (const name of Object.keys(api)) assert.ok(exported.includes(name), `${name} is exported at run time`)
  assert.equal(typeof api.runTransfer, 'function')
  assert.equal(api.TRANSFER_DEFAULTS.embedded.retries, 3)
})
