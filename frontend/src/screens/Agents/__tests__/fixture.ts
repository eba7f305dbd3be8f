import type { Agent } from '../../../lib/types';

/** A saved agent (version 1) for component tests. */
export function agent(name = 'baker', over: Partial<Agent> = {}): Agent {
  return {
    name,
    description: '',
    language: '',
    system: `You are the ${name} assistant.`,
    opening: '',
    starters: [],
    model: 'qwen2.5:7b',
    kbs: [],
    temperature: 0.3,
    followups: true,
    memory: false,
    version: 1,
    updated: '2026-01-01T00:00:00Z',
    ...over,
  };
}
