/**
 * `akamu-floor` (bench/floor-server.ts): akamu's stack and primitives with no storage and no policy, to
 * show how much of an issuance's CPU is the stack itself. Runs last by default. Reported as
 * one of akamu's variants, never as a peer.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { akamuNodeArgs, startedLikeAkamu } from './akamu.ts';
import { Child } from './child.ts';
import type { RunningTarget, StartOptions, TargetDefinition } from './target.ts';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

export const akamuFloor: TargetDefinition = {
  name: 'akamu-floor',
  http01Port: 0,
  unavailable: () => undefined,
  version: () => `calibration (node ${process.version}, in memory)`,
  async start({ workDir, http01Port }: StartOptions): Promise<RunningTarget> {
    const script = path.join(repoRoot, 'bench/floor-server.ts');
    const child = new Child(
      'akamu-floor',
      process.execPath,
      [...akamuNodeArgs(), script, workDir, String(http01Port)],
      {
        cwd: workDir,
      },
    );
    try {
      const { directoryUrl, caBundle } = await startedLikeAkamu(child);
      return { directoryUrl, caBundle, pid: child.pid, child, stop: () => child.stop() };
    } catch (error) {
      await child.kill();
      throw error;
    }
  },
};
