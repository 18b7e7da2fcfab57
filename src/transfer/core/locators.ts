// What a locator the user typed names: its kind (http, s3, directory), whether it is a playlist or a catalog, and
// the class id it gets. Pure string work: no I/O.
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { TransferError, TRANSFER_CODES } from '../errors.ts'
import { keyForUrl } from './keys.ts'

export type LocatorKind = 'http' | 's3' | 'dir'

/** http(s)://… → http, s3://… → s3, file://… or a path → dir. */
export function locatorKind(locator: string): LocatorKind {
  if (/^https?:\/\//i.test(locator)) return 'http'
  if (/^s3:\/\//i.test(locator)) return 's3'
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(locator) && !/^file:/i.test(locator)) {
    throw new TransferError(TRANSFER_CODES.BAD_LOCATOR, `unsupported locator scheme: ${locator} (use http(s)://, s3:// or a directory)`, { status: 400 })
  }
  return 'dir'
}

/** True for a locator naming a playlist (crawled) rather than a prefix/directory (listed). */
export function isPlaylistLocator(locator: string): boolean {
  return /\.m3u8?(\?.*)?$/i.test(locator) || locatorKind(locator) === 'http'
}

export function isCatalogLocator(locator: string): boolean {
  return /\.(json|jsonl|ndjson)(\?.*)?$/i.test(locator)
}

/** Normalises a user-typed locator: directories and files become absolute file:// URLs. */
export function normalizeLocator(locator: string): string {
  return locatorKind(locator) === 'dir' && !locator.startsWith('file:') ? pathToFileURL(path.resolve(locator)).href : locator
}

/** Class id for a locator: the URL path (host dropped) for playlists, the locator itself for prefixes. */
export function classIdFor(locator: string): string {
  if (locatorKind(locator) === 'http') return keyForUrl(locator)
  if (locator.startsWith('file:')) return fileURLToPath(locator)
  return locator
}
