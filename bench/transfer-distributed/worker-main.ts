// Bench entry for worker processes: exactly what `colony transfer worker …` runs.
import { runDistributed } from '../../src/cli/transfer-distributed-command.ts'

process.exitCode = await runDistributed(process.argv.slice(2))
