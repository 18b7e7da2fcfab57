// Super-seeding's reveal plan: each piece shown to one peer before any piece to a second, and no second copy
// while a first copy is still on its way to its peer.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { NativePeer } from '../../../src/swarm/engines/native/peer.ts'
import { RevealPlan } from '../../../src/swarm/engines/native/super-seed.ts'
import { FIRST_COPY_WAIT_MS } from '../../../src/swarm/engines/native/torrent-types.ts'

/** The slice of a peer the plan reads and writes: what it holds, what it was shown, the HAVEs sent to it. */
type PlanPeer = { peer: NativePeer; shown: number[]; holds: (i: number) => void }

function planPeer(): PlanPeer {
  const held = new Set<number>()
  const shown: number[] = []
  const peer = {
    closed: false,
    revealed: new Set<number>(),
    wire: { peerPieces: { get: (i: number) => held.has(i) }, have: (i: number) => { shown.push(i) } },
  } as unknown as NativePeer
  return { peer, shown, holds: (i) => { held.add(i) } }
}

const nothingElsewhere = (): boolean => false

describe('RevealPlan', () => {
  /** Two pieces, one shown to each of two peers; `a` then reports its piece held. */
  function twoPeersOnePieceEach(): { plan: RevealPlan; a: PlanPeer; b: PlanPeer; avail: Uint16Array } {
    const plan = new RevealPlan(2, 2)
    const avail = new Uint16Array(2)
    const a = planPeer()
    const b = planPeer()
    plan.reveal(a.peer, avail, nothingElsewhere, 2, 0)
    plan.reveal(b.peer, avail, nothingElsewhere, 2, 0)
    assert.deepEqual([a.shown, b.shown], [[0], [1]], 'each peer is shown a piece nobody else was')
    assert.equal(plan.unshown, 0)
    a.holds(0)
    plan.arrived(0)
    return { plan, a, b, avail }
  }

  test('no piece is shown a second time while a first copy is on its way', () => {
    const { plan, a, b, avail } = twoPeersOnePieceEach()
    assert.equal(plan.awaitingFirstCopies(100), true, 'piece 1 has not reached b')
    plan.reveal(a.peer, avail, nothingElsewhere, 2, 100)
    assert.deepEqual(a.shown, [0], 'a is not shown piece 1 before b holds it')
    b.holds(1)
    plan.arrived(1)
    assert.equal(plan.awaitingFirstCopies(200), false)
    plan.reveal(a.peer, avail, nothingElsewhere, 2, 200)
    assert.deepEqual(a.shown, [0, 1], 'once b holds piece 1, a may be shown its second copy')
  })

  test('a first copy that waited FIRST_COPY_WAIT_MS no longer holds second copies back', () => {
    const { plan, a, avail } = twoPeersOnePieceEach()
    plan.reveal(a.peer, avail, nothingElsewhere, 2, FIRST_COPY_WAIT_MS - 1)
    assert.deepEqual(a.shown, [0])
    assert.equal(plan.awaitingFirstCopies(FIRST_COPY_WAIT_MS), false)
    plan.reveal(a.peer, avail, nothingElsewhere, 2, FIRST_COPY_WAIT_MS)
    assert.deepEqual(a.shown, [0, 1], 'b stalls: a is shown piece 1 after the wait')
  })

  test('a peer that leaves before fetching its first copy gives the piece back as unshown', () => {
    const { plan, a, b, avail } = twoPeersOnePieceEach()
    plan.forget(b.peer)
    assert.equal(plan.unshown, 1, 'piece 1 is shown to nobody now')
    assert.equal(plan.awaitingFirstCopies(100), false, 'nor on its way to anybody')
    plan.reveal(a.peer, avail, nothingElsewhere, 1, 100)
    assert.deepEqual(a.shown, [0, 1], 'a gets piece 1 as its first copy')
    assert.equal(plan.unshown, 0)
    assert.equal(plan.awaitingFirstCopies(100), true)
  })

  test('no second copy while another segment has fresh pieces', () => {
    const { plan, a, b, avail } = twoPeersOnePieceEach()
    b.holds(1)
    plan.arrived(1)
    plan.reveal(a.peer, avail, () => true, 2, 100)
    assert.deepEqual(a.shown, [0])
  })
})
