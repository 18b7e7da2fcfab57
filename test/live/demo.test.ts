import assert from 'node:assert/strict'
import { test } from 'node:test'
import { runLiveDemo } from '../../src/demo/live.ts'

test('runLiveDemo: embedded node, viewers, coalesced likes and ordered comments, then stops', { timeout: 30_000 }, async () => {
  const lines: string[] = []
  const result = await runLiveDemo({ log: (l) => lines.push(l), viewers: 4, likes: 120 })
  assert.equal(result.ok, true, lines.join('\n'))
  assert.ok(lines.some((l) => /each viewer received 120 likes/.test(l)), lines.join('\n'))
  assert.ok(lines.some((l) => /deliveries/.test(l)))
  assert.ok(lines.some((l) => /viewer tokens issued by POST \/v1\/tokens.*LIVE_FORBIDDEN_TOPIC/.test(l)), 'viewers publish with scoped viewer tokens')
})
