// Placeholder until the swarm subsystem lands; replaced by its command module.
import { ColonyError } from '../shared/errors.ts'

export async function run(_argv: string[]): Promise<number> {
  throw new ColonyError('COLONY_NOT_BUILT', 'swarm is not built yet')
}
