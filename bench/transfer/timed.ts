// Runs one bench step under /usr/bin/time: wall time, user+sys CPU of the whole process tree (every thread and
// every child it waited for), peak RSS, exit code.
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import path from 'node:path'

export type Timed = { wallS: number; cpuS: number; userS: number; sysS: number; rssMB: number; code: number | null; stdout: string; stderr: string }

export async function timed(cmd: string, args: string[], options: { cwd: string; timeoutMs: number; env?: NodeJS.ProcessEnv; log?: (line: string) => void }): Promise<Timed> {
  const timeFile = path.join(options.cwd, `time-${process.pid}.out`)
  const t0 = performance.now()
  const child = spawn('/usr/bin/time', ['-f', '%U %S %M', '-o', timeFile, cmd, ...args], { cwd: options.cwd, env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (b: Buffer) => { stdout = (stdout + b.toString()).slice(-4000) })
  child.stderr.on('data', (b: Buffer) => { stderr = (stderr + b.toString()).slice(-4000) })
  const timer = setTimeout(() => { options.log?.(`  ${cmd}: step timeout, killing`); child.kill('SIGKILL') }, options.timeoutMs)
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
  clearTimeout(timer)
  const wallS = (performance.now() - t0) / 1000
  const [userS = NaN, sysS = NaN, rssKB = NaN] = readFileSync(timeFile, 'utf8').trim().split('\n').at(-1)?.split(' ').map(Number) ?? []
  return { wallS, cpuS: userS + sysS, userS, sysS, rssMB: rssKB / 1024, code, stdout, stderr }
}

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  const m = Math.floor(s.length / 2)
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2
}
