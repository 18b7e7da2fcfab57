// Runs a TypeScript file in a child Node process, so a crash that no handler can catch shows up as the child's exit
// code and stderr instead of taking the test runner down with it.
import { execFile } from 'node:child_process'

export type ChildResult = { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }

/** `node <file> <args…>`; SIGKILLed after `timeoutMs` so a test never hangs on it. */
export function runNodeFile(file: string, args: string[], timeoutMs = 20_000): Promise<ChildResult> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [file, ...args], { timeout: timeoutMs, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      resolve({ code: child.exitCode, signal: child.signalCode ?? (err as { signal?: NodeJS.Signals } | null)?.signal ?? null, stdout, stderr })
    })
  })
}

/** A one-line account of a child's end for assertion messages: exit code or signal and the tail of stderr. */
export function describeExit(r: ChildResult): string {
  return `exit ${r.code ?? r.signal}; stderr: ${r.stderr.slice(-1500)}`
}
