// The remembered hub as the screens see it: which local agents it lists.
import { call } from './transport';

/** One of the workspace's agents on the remembered hub (PublishedAgents). */
export interface HubAgent {
  name: string; // the public name
  local?: string; // the agent here published under it
  version: number;
  latest: number;
  access: 'open' | 'key';
}

/** The hub's entry for the local agent name: an agent may be published
 * under another public name, which the hub's list records as `local`. */
export function hubEntry<T extends { name: string; local?: string }>(list: T[] | null | undefined, name: string): T | undefined {
  return list?.find((a) => (a.local ?? a.name) === name);
}

/** Whether the remembered hub lists the local agent name. No hub or token
 * remembered: no. A hub that cannot be asked: yes, so the screen keeps its
 * hub control and using it says what is wrong. */
export async function publishedOnHub(name: string): Promise<boolean> {
  try {
    const s = await call<{ url: string; hasToken: boolean }>('PublishSettings');
    if (!s?.url || !s.hasToken) return false;
  } catch {
    return false;
  }
  try {
    return hubEntry(await call<{ name: string; local?: string }[]>('PublishedAgents'), name) !== undefined;
  } catch {
    return true;
  }
}
