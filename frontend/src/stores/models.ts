import { writable } from 'svelte/store';
import { call } from '../lib/transport';
import type { Model, OllamaStatus } from '../lib/types';

/** null while the first check is running. */
export const ollama = writable<OllamaStatus | null>(null);
export const models = writable<Model[]>([]);
export const modelsError = writable('');

export async function checkOllama(): Promise<OllamaStatus | null> {
  try {
    const s = await call<OllamaStatus>('OllamaStatus');
    ollama.set(s);
    return s;
  } catch (e) {
    const s: OllamaStatus = { url: '', reachable: false, version: '', error: e instanceof Error ? e.message : String(e), fix: '' };
    ollama.set(s);
    return s;
  }
}

export async function loadModels() {
  const list = await call<Model[]>('ListModels');
  models.set(list ?? []);
  return list ?? [];
}

let timer: ReturnType<typeof setInterval> | null = null;

export function watchOllama(everyMs = 20000) {
  checkOllama();
  if (timer) clearInterval(timer);
  timer = setInterval(checkOllama, everyMs);
  return () => {
    if (timer) clearInterval(timer);
    timer = null;
  };
}
