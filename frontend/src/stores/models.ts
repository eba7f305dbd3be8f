import { writable } from 'svelte/store';
import { call as _call, on } from '../lib/transport';
import { EVENTS } from '../lib/events';
import type { GPU, Model, OCREngines, OllamaStatus, PullEvent } from '../lib/types';
import { settings } from './settings';

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

const call = _call;

export const gpu = writable<GPU | null>(null);
/** The running or last pull, by job id. */
export const pull = writable<PullEvent | null>(null);

export async function loadGPU() {
  const g = await call<GPU>('GPUInfo');
  gpu.set(g);
  return g;
}

let pullJob = '';
let offPull: (() => void) | null = null;
// Events can arrive before PullModel returns the job's id: keep the latest.
const latestPull = new Map<string, PullEvent>();

export async function pullModel(name: string) {
  if (!offPull) {
    offPull = on<PullEvent>(EVENTS.modelsPull, (ev) => {
      latestPull.set(ev.job, ev);
      if (ev.job !== pullJob) return;
      pull.set(ev);
      if (ev.done && !ev.error) loadModels().catch(() => {});
    });
  }
  pull.set({ job: '', name, status: 'starting', total: 0, completed: 0, done: false, error: '' });
  pullJob = await call<string>('PullModel', name);
  const early = latestPull.get(pullJob);
  if (early) {
    pull.set(early);
    if (early.done && !early.error) loadModels().catch(() => {});
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

/** How scans and photos are read: Tesseract or a vision model. */
export const ocrEngines = writable<OCREngines | null>(null);

export async function loadOCREngines() {
  const e = await call<OCREngines>('OCREngines');
  ocrEngines.set(e);
  return e;
}

export async function setOCRModel(name: string) {
  const e = await call<OCREngines>('SetOCRModel', name);
  ocrEngines.set(e);
  // The Settings screen saves the whole settings object: keep its copy
  // current so it does not put the old engine back.
  settings.update((s) => (s ? { ...s, ocrModel: e.model } : s));
  return e;
}
