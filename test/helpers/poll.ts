/**
 * Polls `probe` until it returns a value (neither undefined nor a rejection) and resolves to it; throws
 * `message()` once `timeoutMs` has passed without one. For tests waiting on another process.
 */
export async function pollUntil<T>(
  probe: () => Promise<T | undefined>,
  timeoutMs: number,
  message: () => string,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(message());
    await new Promise((done) => setTimeout(done, intervalMs));
  }
}
