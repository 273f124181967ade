/** File helpers: atomic writes that create files with their final mode, and reads with clear errors. */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { configError } from './exit-codes.ts';

/**
 * Writes `data` to `path` through a temporary file in the same directory, created exclusively with
 * `mode` (and given exactly that mode before any byte is written, whatever the umask), then renamed over
 * `path`: readers never see a partial file and a key never exists with a wider mode. Missing parent
 * directories are created with `dirMode` (0700 unless the caller says otherwise).
 */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  mode: number,
  dirMode = 0o700,
): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: dirMode });
  const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  const handle = await open(tmp, 'wx', mode);
  try {
    try {
      await handle.chmod(mode);
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, path);
  } catch (error) {
    await unlink(tmp).catch(() => {});
    throw error;
  }
}

/** Reads a file the user named; a missing or unreadable file is a configuration error (exit 2). */
export async function readUserFile(path: string, what: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (error) {
    throw configError(`cannot read ${what} ${path}: ${(error as Error).message}`, error);
  }
}

/** Parses an octal file mode given as "0640", "640" or a number. */
export function parseMode(value: string | number): number {
  const mode = typeof value === 'number' ? value : Number.parseInt(value, 8);
  if (
    !Number.isInteger(mode) ||
    mode < 0 ||
    mode > 0o777 ||
    (typeof value === 'string' && !/^0?[0-7]{3}$/.test(value))
  )
    throw configError(`invalid file mode ${JSON.stringify(value)}: expected octal like "0640"`);
  return mode;
}

/** Parses a duration: "90s", "30m", "12h", "30d", or a number of seconds. */
export function parseDuration(value: string | number, what: string): number {
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return value * 1000;
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(String(value).trim());
  if (!match)
    throw configError(`invalid ${what} ${JSON.stringify(value)}: expected e.g. "90s", "30m", "12h", "30d"`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[match[2] as 'ms'];
  return Number(match[1]) * unit;
}
