// The engine contract run against both engines: colony's own (native) and an aria2c child (aria2).
import assert from 'node:assert/strict'
import { rm } from 'node:fs/promises'
import { test } from 'node:test'
import { createSilentLogger } from '../../src/shared/logger.ts'
import { startAria2Engine } from '../../src/swarm/engines/aria2/engine.ts'
import { startNativeEngine } from '../../src/swarm/engines/native/engine.ts'
import { makeTempDir } from '../../support/services.ts'
import { swarmEngineContract } from './contracts/swarm-engine.contract.ts'

swarmEngineContract('native', startNativeEngine)
swarmEngineContract('aria2', startAria2Engine)

test('the aria2 engine refuses peerHost (only the native engine binds one address)', async () => {
  const dir = await makeTempDir('colony-engine-aria2-')
  try {
    await assert.rejects(
      startAria2Engine({ listenPort: 0, uploadLimit: 0, downloadLimit: 0, dataDir: dir, log: createSilentLogger(), peerHost: '127.0.0.1' }),
      { code: 'SWARM_BAD_REQUEST', message: /peerHost needs the native engine/ },
    )
  } finally { await rm(dir, { recursive: true, force: true }) }
})
