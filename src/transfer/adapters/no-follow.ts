// A directory destination never writes through a symlink found inside it (put there by someone else, or left by
// another tool): every directory between the root and a file is lstat'ed before use, a symlink at a file's own
// name refuses that file, temp files are created with O_EXCL|O_NOFOLLOW, and lookups do not follow links. The root
// itself may be a symlink: the user named it. In a directory the destination created itself, a file's own name is
// not looked at: only this destination put names there, and the temp + rename it writes with replaces a name
// instead of writing through it.
import { constants, lstatSync } from 'node:fs'
import path from 'node:path'
import { TransferError, TRANSFER_CODES } from '../errors.ts'

/** A new temp file: fails on anything already at the name, a symlink included (O_EXCL does not follow it). */
export const CREATE_NEW = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW

/** Reading a stored file for its checksum: a symlink at the name fails with ELOOP instead of being followed. */
export const READ_NO_FOLLOW = constants.O_RDONLY | constants.O_NOFOLLOW

export function symlinkError(key: string, at: string): TransferError {
  return new TransferError(TRANSFER_CODES.SYMLINK_IN_DESTINATION,
    `refused ${key}: ${at} is a symlink inside the destination, and colony never writes through one (remove it, or copy elsewhere)`,
    { details: { key, path: at } })
}

/**
 * Walks from `root` (excluded) down to `dir` with lstat: 'ok' when each step is a real directory, 'absent' when a
 * step does not exist or is not a directory, or the first symlink met.
 */
export function walkDirs(root: string, dir: string): 'ok' | 'absent' | { symlink: string } {
  const rel = path.relative(root, dir)
  if (!rel) return 'ok'
  let cur = root
  for (const part of rel.split(path.sep)) {
    cur = path.join(cur, part)
    const st = lstatSync(cur, { throwIfNoEntry: false })
    if (!st) return 'absent'
    if (st.isSymbolicLink()) return { symlink: cur }
    if (!st.isDirectory()) return 'absent'
  }
  return 'ok'
}

/** Throws TRANSFER_SYMLINK_IN_DESTINATION when the final name of a file to write is a symlink. */
export function assertNotSymlink(full: string, key: string): void {
  if (lstatSync(full, { throwIfNoEntry: false })?.isSymbolicLink()) throw symlinkError(key, full)
}
