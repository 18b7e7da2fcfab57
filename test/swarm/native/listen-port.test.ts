// aria2's listen port: below the ephemeral range, and reserved per host so two agents never pick the same one.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { readFile, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { test } from 'node:test'
import { pickListenPort, releaseListenPort, reserveListenPort } from '../../../src/swarm/engines/aria2/listen-port.ts'

const reservation = (port: number): string => path.join(os.tmpdir(), 'colony-swarm-ports', String(port))

test('picked ports are below the ephemeral range, reserved for this process, never handed out twice, and released', async () => {
  const low = Number((await readFile('/proc/sys/net/ipv4/ip_local_port_range', 'utf8')).trim().split(/\s+/)[0])
  const ports: number[] = []
  for (let i = 0; i < 100; i++) ports.push(await pickListenPort())
  assert.equal(new Set(ports).size, ports.length)
  for (const p of ports) {
    assert.ok(p >= 10000 && p < low, `${p} is below the ephemeral range (${low})`)
    assert.equal(await readFile(reservation(p), 'utf8'), String(process.pid))
  }
  for (const p of ports) await releaseListenPort(p)
  for (const p of ports) await assert.rejects(readFile(reservation(p)), { code: 'ENOENT' })
})

test('a port reserved by a live process is refused; one left by a dead process is taken over', async () => {
  const port = await pickListenPort()
  await releaseListenPort(port)
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'])
  try {
    await writeFile(reservation(port), String(child.pid))
    assert.equal(await reserveListenPort(port), false, 'held by a live process')
  } finally {
    child.kill()
    await new Promise((r) => child.once('exit', r))
  }
  assert.equal(await reserveListenPort(port), true, 'its owner is gone')
  assert.equal(await readFile(reservation(port), 'utf8'), String(process.pid))
  await releaseListenPort(port)
})
