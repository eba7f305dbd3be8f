import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { expect, it } from 'vitest';
import { EVENTS } from '../events';

it('lists exactly the events of docs/api.md', () => {
  const doc = readFileSync(resolve(__dirname, '../../../../docs/api.md'), 'utf8');
  const section = doc.slice(doc.indexOf('## Events'));
  const documented = [...section.matchAll(/^- `([a-z]+:[a-z]+)`/gm)].map((m) => m[1]).sort();
  expect(documented.length).toBeGreaterThan(3);
  expect(Object.values(EVENTS).sort()).toEqual(documented);
});
