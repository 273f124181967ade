import { z } from 'zod';

/** `[audit]`: the audit log (docs/operations.md, "Audit"). Events always go to the database. */
export const auditConfigSchema = z
  .strictObject({
    /**
     * Also append every committed event to this file as one JSON line (created with mode 0600);
     * empty: database only. A relative path is relative to the configuration file.
     */
    file: z.string().default(''),
  })
  .prefault({});
