// Runs `node bin/colony.js …` as a real subprocess (async: the origins and s3rver live in the test process).
import { spawn, type ChildProcess } from 'node:child_process'
import { readFile, readdir } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { GetObjectCommand, ListObjectsCommand, S3Client } from '@aws-sdk/client-s3'
import type { RunReport } from '../../../src/transfer/core/types.ts'

export const REPO = fileURLToPath(new URL('../../../', import.meta.url))
export const COLONY_BIN = path.join(REPO, 'bin/colony.js')

export type CliResult = { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }

/** Environment for a child: the caller's, minus COLONY_* leaking from the outer shell, plus `extra`. */
function childEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('COLONY_')) env[k] = v
  return { ...env, COLONY_LOG_LEVEL: 'warn', ...extra }
}

/** Starts `colony <args>`; the caller waits with `waitCli` or kills it. */
export function spawnCli(args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv }): { child: ChildProcess; done: Promise<CliResult> } {
  const child = spawn(process.execPath, [COLONY_BIN, ...args], { cwd: options.cwd, env: childEnv(options.env), stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout?.on('data', (b: Buffer) => { stdout += b.toString() })
  child.stderr?.on('data', (b: Buffer) => { stderr += b.toString() })
  const done = new Promise<CliResult>((resolve) => {
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }))
  })
  return { child, done }
}

/** Runs `colony <args>` to completion; SIGKILLs it after `timeoutMs` so a test can never hang on it. */
export async function runCli(args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<CliResult> {
  const { child, done } = spawnCli(args, options)
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 90_000)
  try { return await done } finally { clearTimeout(timer) }
}

export async function readReport(file: string): Promise<RunReport> {
  return JSON.parse(await readFile(file, 'utf8')) as RunReport
}

/** Every file under `dir`, relative, sorted. */
export async function listTree(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => [])
  return entries.filter((e) => e.isFile()).map((e) => path.relative(dir, path.join(e.parentPath, e.name)).split(path.sep).join('/')).sort()
}

export function s3Client(endpoint: string): S3Client {
  return new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } })
}

/** Every key under a prefix (ListObjects v1: s3rver 3.7 fails a truncated ListObjectsV2). */
export async function listS3(client: S3Client, bucket: string, prefix: string): Promise<Array<{ key: string; size: number }>> {
  const out: Array<{ key: string; size: number }> = []
  let marker: string | undefined
  do {
    const page = await client.send(new ListObjectsCommand({ Bucket: bucket, Prefix: prefix, Marker: marker }))
    for (const o of page.Contents ?? []) out.push({ key: o.Key ?? '', size: o.Size ?? 0 })
    marker = page.IsTruncated ? page.Contents?.at(-1)?.Key : undefined
  } while (marker)
  return out
}

export async function getS3(client: S3Client, bucket: string, key: string): Promise<{ body: Buffer; contentType?: string }> {
  const r = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }))
  return { body: Buffer.from(await r.Body?.transformToByteArray() ?? []), ...(r.ContentType ? { contentType: r.ContentType } : {}) }
}

export const S3_ENV = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_REGION: 'us-east-1' }
