import { writable, get } from 'svelte/store';
import { call, on, upload } from '../lib/transport';
import { EVENTS } from '../lib/events';
import type { Chunk, Doc, Hit, IngestDone, IngestProgress, KB } from '../lib/types';

export interface Job {
  job: string;
  kb: string;
  progress: IngestProgress | null;
  cancelling: boolean;
}

export const kbs = writable<KB[]>([]);
export const kbsLoaded = writable(false);
export const selectedKB = writable<string>('');
export const docs = writable<Doc[]>([]);
export const docsLoading = writable(false);
export const jobs = writable<Record<string, Job>>({});
/** Latest finished-job summaries, newest first. */
export const summaries = writable<IngestDone[]>([]);

export async function loadKBs() {
  const list = (await call<KB[]>('ListKBs')) ?? [];
  kbs.set(list);
  kbsLoaded.set(true);
  const sel = get(selectedKB);
  if (!sel || !list.some((k) => k.name === sel)) {
    selectedKB.set(list[0]?.name ?? '');
    if (list[0]) loadDocs(list[0].name).catch(() => {});
    else docs.set([]);
  }
  return list;
}

export async function createKB(name: string, embedModel: string) {
  const kb = await call<KB>('CreateKB', name, embedModel);
  await loadKBs();
  await selectKB(kb?.name ?? name);
  return kb;
}

export async function removeKB(name: string) {
  await call('RemoveKB', name);
  if (get(selectedKB) === name) selectedKB.set('');
  await loadKBs();
}

export async function selectKB(name: string) {
  selectedKB.set(name);
  await loadDocs(name);
}

export async function loadDocs(kb: string) {
  docsLoading.set(true);
  try {
    const list = (await call<Doc[]>('ListDocuments', kb)) ?? [];
    if (get(selectedKB) === kb) docs.set(list);
    return list;
  } finally {
    docsLoading.set(false);
  }
}

function track(job: string, kb: string) {
  // A small job can finish before its id comes back: then there is nothing
  // left to track (its summary is already shown).
  if (finishedEarly.delete(job)) return;
  tracked.add(job);
  jobs.update((j) => (j[job] ? j : { ...j, [job]: { job, kb, progress: null, cancelling: false } }));
}

export async function ingestPaths(kb: string, paths: string[]) {
  if (!paths.length) return '';
  const job = await call<string>('Ingest', kb, paths);
  track(job, kb);
  return job;
}

/** Adds a web page, sitemap or (depth > 0) site as a job, like an ingest. */
export async function addWebsite(kb: string, url: string, depth: number, maxPages: number, schedule: string) {
  const job = await call<string>('AddWebsite', kb, url, depth, maxPages, schedule);
  track(job, kb);
  return job;
}

/** Fetches a website again (conditionally) or rescans a folder, as a job. */
export async function syncSource(kb: string, id: string) {
  const job = await call<string>('SyncSource', kb, id);
  track(job, kb);
  return job;
}

export async function uploadFiles(kb: string, files: File[]) {
  if (!files.length) return '';
  const job = await upload(kb, files);
  track(job, kb);
  return job;
}

export async function chooseAndIngest(kb: string, folder: boolean) {
  if (folder) {
    const dir = await call<string>('ChooseFolder');
    return dir ? ingestPaths(kb, [dir]) : '';
  }
  const files = (await call<string[]>('ChooseFiles')) ?? [];
  return ingestPaths(kb, files);
}

export async function cancelJob(job: string) {
  jobs.update((j) => (j[job] ? { ...j, [job]: { ...j[job], cancelling: true } } : j));
  try {
    await call('CancelJob', job);
  } catch (e) {
    jobs.update((j) => (j[job] ? { ...j, [job]: { ...j[job], cancelling: false } } : j));
    throw e;
  }
}

export async function removeDoc(kb: string, path: string) {
  await call('RemoveDocument', kb, path);
  await Promise.all([loadDocs(kb), loadKBs()]);
}

export async function chunks(kb: string, path: string) {
  return (await call<Chunk[]>('DocumentChunks', kb, path)) ?? [];
}

export async function search(kb: string, query: string, k = 8) {
  return (await call<Hit[]>('Search', kb, query, k)) ?? [];
}

export function dismissSummary(job: string) {
  summaries.update((l) => l.filter((s) => s.job !== job));
}

let unsubs: (() => void)[] = [];
/** Jobs whose ingest:done arrived before Ingest returned their id. */
const finishedEarly = new Set<string>();
/** Jobs whose id Ingest has returned. */
const tracked = new Set<string>();

/** Subscribes to ingest events once for the app's lifetime. */
export function watchIngest() {
  if (unsubs.length) return;
  unsubs = [
    on<IngestProgress>(EVENTS.ingestProgress, (p) => {
      if (!p?.job) return;
      jobs.update((j) => ({
        ...j,
        [p.job]: { job: p.job, kb: p.kb, progress: p, cancelling: j[p.job]?.cancelling ?? false },
      }));
    }),
    on<IngestDone>(EVENTS.ingestDone, (d) => {
      if (!d?.job) return;
      if (!tracked.delete(d.job)) finishedEarly.add(d.job);
      jobs.update((j) => {
        const { [d.job]: _, ...rest } = j;
        return rest;
      });
      summaries.update((l) => [d, ...l.filter((s) => s.job !== d.job)].slice(0, 5));
      loadKBs().catch(() => {});
      if (get(selectedKB) === d.kb) loadDocs(d.kb).catch(() => {});
    }),
  ];
}
