import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { PROBLEM_TYPES } from '@akamu/protocol';
import { configSchema } from '../src/config.ts';

const doc = (name: string) => readFileSync(new URL(`../../../docs/${name}`, import.meta.url), 'utf8');

describe('documentation stays in step with the code', () => {
  it('docs/errors.md documents every problem type with its status', () => {
    const text = doc('errors.md');
    for (const [type, { status }] of Object.entries(PROBLEM_TYPES)) {
      const section = new RegExp(`### ${type}\\nStatus ${status}[ .]`);
      assert.match(text, section, `docs/errors.md: "### ${type}" followed by "Status ${status}"`);
    }
    const documented = [...text.matchAll(/^### (\w+)$/gm)].map((m) => m[1]);
    assert.deepEqual(
      documented.filter((t) => !(t! in PROBLEM_TYPES)),
      [],
      'no documented type is unknown to the code',
    );
  });

  it('docs/configuration.md documents every configuration key in its section', () => {
    const text = doc('configuration.md');
    const sections = text.split(/^## /m);
    for (const [key, schema] of Object.entries(configSchema.shape)) {
      const def = (
        schema as { def?: { innerType?: { shape?: object; def?: { valueType?: { shape?: object } } } } }
      ).def;
      // A table of tables ([profiles.<id>]) documents the keys of one entry under "## [profiles.<id>]".
      const entry = def?.innerType?.def?.valueType?.shape;
      if (entry) {
        const section = sections.find((s) => s.startsWith(`[${key}.<id>]`));
        assert.ok(section, `docs/configuration.md has a "## [${key}.<id>]" section`);
        for (const sub of Object.keys(entry)) {
          assert.match(
            section,
            new RegExp(`\\| \`${sub}\` \\|`),
            `docs/configuration.md documents ${key}.<id>.${sub}`,
          );
        }
        continue;
      }
      const inner = def?.innerType?.shape;
      if (!inner) {
        assert.match(sections.find((s) => s.startsWith('Top level'))!, new RegExp(`\\| \`${key}\` \\|`), key);
        continue;
      }
      const section = sections.find((s) => s.startsWith(`[${key}]`));
      assert.ok(section, `docs/configuration.md has a "## [${key}]" section`);
      for (const sub of Object.keys(inner)) {
        assert.match(
          section,
          new RegExp(`\\| \`${sub}\` \\|`),
          `docs/configuration.md documents ${key}.${sub}`,
        );
      }
    }
  });
});
