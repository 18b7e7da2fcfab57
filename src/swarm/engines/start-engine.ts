// Starts the engine an agent names: the agent knows engines only through this and the SwarmEngine interface.
import { SwarmError } from '../errors.ts'
import { startAria2Engine } from './aria2/engine.ts'
import { ENGINE_KINDS, type EngineKind, type EngineOptions, type SwarmEngine } from './engine.ts'
import { startNativeEngine } from './native/engine.ts'

const STARTERS: Readonly<Record<EngineKind, (options: EngineOptions) => Promise<SwarmEngine>>> = {
  native: startNativeEngine,
  aria2: startAria2Engine,
}

export async function startEngine(kind: EngineKind, options: EngineOptions): Promise<SwarmEngine> {
  if (!ENGINE_KINDS.includes(kind)) throw new SwarmError('SWARM_BAD_REQUEST', `unknown engine ${JSON.stringify(kind)} (${ENGINE_KINDS.join(', ')})`)
  return STARTERS[kind](options)
}
