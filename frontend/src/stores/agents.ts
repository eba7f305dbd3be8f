import { writable } from 'svelte/store';
import { call } from '../lib/transport';
import type { Agent, AgentDraft } from '../lib/types';

export const agents = writable<Agent[]>([]);
export const agentsLoaded = writable(false);

export async function loadAgents() {
  const list = (await call<Agent[]>('ListAgents')) ?? [];
  agents.set(list);
  agentsLoaded.set(true);
  return list;
}

export async function getAgent(name: string) {
  return call<Agent>('GetAgent', name);
}

export async function saveAgent(a: Agent) {
  const saved = await call<Agent>('SaveAgent', a);
  await loadAgents();
  return saved;
}

export async function deleteAgent(name: string) {
  await call('DeleteAgent', name);
  await loadAgents();
}

export async function draftAgent(sentence: string, kbs: string[], model: string) {
  return call<AgentDraft>('DraftAgent', sentence, kbs, model);
}
