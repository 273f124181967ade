import { lstatSync, mkdirSync } from 'node:fs';
import path from 'node:path';

/**
 * Where `akamu` keeps Node's compile cache (node:module enableCompileCache), or undefined for none.
 * V8 runs what it reads from that directory, so it must be one only this user can write: never a shared
 * temporary directory. $AKAMU_COMPILE_CACHE names it (`off` disables the cache); otherwise
 * $XDG_CACHE_HOME/akamu/compile-cache, or ~/.cache/akamu/compile-cache.
 */
export function compileCacheDir(env: NodeJS.ProcessEnv, home: string | undefined): string | undefined {
  const chosen = env.AKAMU_COMPILE_CACHE;
  if (chosen === 'off') return undefined;
  if (chosen) return path.resolve(chosen);
  // XDG Base Directory: a relative $XDG_CACHE_HOME is invalid and ignored.
  const xdg = env.XDG_CACHE_HOME && path.isAbsolute(env.XDG_CACHE_HOME) ? env.XDG_CACHE_HOME : undefined;
  const base = xdg ?? (home && path.isAbsolute(home) ? path.join(home, '.cache') : undefined);
  return base && path.join(base, 'akamu', 'compile-cache');
}

/**
 * Creates `dir` (mode 0700) if needed and says whether it is safe to cache compiled code in: a real
 * directory (not a symlink) owned by this user and writable by no one else. Never throws.
 */
export function ensurePrivateDirectory(dir: string): boolean {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const st = lstatSync(dir);
    const uid = process.getuid?.();
    return st.isDirectory() && (uid === undefined || st.uid === uid) && (st.mode & 0o022) === 0;
  } catch {
    return false;
  }
}
