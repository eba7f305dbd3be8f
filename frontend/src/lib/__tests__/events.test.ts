import { expect, it } from 'vitest';
import { EVENTS } from '../events';

it('lists the events of docs/api.md', () => {
  expect(Object.values(EVENTS).sort()).toEqual(['chat:done', 'chat:token', 'ingest:done', 'ingest:progress']);
});
