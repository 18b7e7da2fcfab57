// Bench entry for worker processes: what `colony transfer worker …` runs, plus the synthetic runs the bench submits.
import { runDistributed } from '../../src/cli/transfer-distributed-command.ts'
import { withSyntheticRuns } from '../../support/transfer-synthetic.ts'

process.exitCode = await runDistributed(process.argv.slice(2), { wrapCore: withSyntheticRuns })
