// Placeholder until the demo subsystem lands; replaced by its command module.
import { ColonyError } from '../shared/errors.ts'

export async function run(_argv: string[]): Promise<number> {
  throw new ColonyError('COLONY_NOT_BUILT', 'demo is not built yet')
}
