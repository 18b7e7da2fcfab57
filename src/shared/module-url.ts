// Where a module that is started on its own (a worker thread, a cluster worker) lives, next to the caller.
// The source tree holds `.ts` files and the published package `.js` files built from them: the caller names the
// module by its base name and gets the file of its own kind.

/** URL of `./<name>.ts` (run from source) or `./<name>.js` (run from dist/) relative to `base` (import.meta.url). */
export function siblingModule(base: string, name: string): URL {
  const ext = base.endsWith('.ts') ? '.ts' : '.js'
  return new URL(`./${name}${ext}`, base)
}
