/** The daemon's log on stdout: JSON lines (`log_format = "json"`) or one human line per event. */
import { writeSync } from 'node:fs';

export type Level = 'info' | 'warn' | 'error';

export class DaemonLog {
  format: 'json' | 'human';

  constructor(format: 'json' | 'human') {
    this.format = format;
  }

  log(level: Level, event: string, fields: Record<string, unknown> = {}): void {
    const time = new Date().toISOString();
    if (this.format === 'json') {
      writeSync(1, `${JSON.stringify({ time, level, event, ...fields })}\n`);
      return;
    }
    const rest = Object.entries(fields)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${k}=${typeof v === 'string' && !/\s/.test(v) ? v : JSON.stringify(v)}`)
      .join(' ');
    writeSync(1, `${time} ${level} ${event}${rest ? ` ${rest}` : ''}\n`);
  }

  info(event: string, fields?: Record<string, unknown>): void {
    this.log('info', event, fields);
  }
  warn(event: string, fields?: Record<string, unknown>): void {
    this.log('warn', event, fields);
  }
  error(event: string, fields?: Record<string, unknown>): void {
    this.log('error', event, fields);
  }
}
