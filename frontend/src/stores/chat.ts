// One chat session: a conversation with one agent, streaming the answer in.
// A factory rather than a singleton because the Agents screen runs its own
// small test chat beside the editor.
import { writable, get, type Readable } from 'svelte/store';
import { call as realCall, on as realOn } from '../lib/transport';
import { EVENTS } from '../lib/events';
import type { Attachment, ChatDone, ChatToken, Citation, Conversation, Message } from '../lib/types';

export interface UIMessage extends Message {
  /** The name of a photo attached to this question. */
  attachment?: string;
  streaming?: boolean;
  error?: string;
  notCovered?: boolean;
}

export interface ChatState {
  agent: string;
  conversationId: string;
  messages: UIMessage[];
  conversations: Conversation[];
  streamId: string;
  busy: boolean;
  stopping: boolean;
  loading: boolean;
}

export interface ChatDeps {
  call?: <T>(method: string, ...args: unknown[]) => Promise<T>;
  on?: <T>(event: string, fn: (p: T) => void) => () => void;
  /** Batches DOM-facing updates; defaults to requestAnimationFrame. */
  schedule?: (fn: () => void) => void;
  now?: () => string;
}

export interface ChatStore extends Readable<ChatState> {
  setAgent(name: string): Promise<void>;
  loadConversations(): Promise<void>;
  open(id: string): Promise<void>;
  newConversation(): void;
  ask(question: string, image?: Attachment): Promise<void>;
  /** The one vote on an answer: 1, -1, or 0 to take it back. */
  vote(messageId: string, rating: 1 | -1 | 0, comment?: string): Promise<void>;
  stop(): Promise<void>;
  destroy(): void;
}

function defaultSchedule(fn: () => void) {
  if (typeof requestAnimationFrame === 'function') requestAnimationFrame(() => fn());
  else setTimeout(fn, 16);
}

interface Part {
  seq: number;
  text: string;
}

/** Inserts keeping seq order; duplicates (a re-sent batch) are dropped. */
export function insertPart(parts: Part[], p: Part) {
  let i = parts.length;
  while (i > 0 && parts[i - 1].seq > p.seq) i--;
  if (i > 0 && parts[i - 1].seq === p.seq) return;
  parts.splice(i, 0, p);
}

export function createChat(deps: ChatDeps = {}): ChatStore {
  const call = deps.call ?? realCall;
  const on = deps.on ?? realOn;
  const schedule = deps.schedule ?? defaultSchedule;
  const now = deps.now ?? (() => new Date().toISOString());

  const state = writable<ChatState>({
    agent: '',
    conversationId: '',
    messages: [],
    conversations: [],
    streamId: '',
    busy: false,
    stopping: false,
    loading: false,
  });

  // Streaming bookkeeping lives outside the store so tokens cost no
  // re-render until the next frame.
  let parts: Part[] = [];
  let dirty = false;
  let flushQueued = false;
  let awaitingId = false;
  const early = new Map<string, Part[]>();
  const earlyDone = new Map<string, ChatDone>();
  let stopTimer: ReturnType<typeof setTimeout> | null = null;

  function updateLast(fn: (m: UIMessage) => UIMessage) {
    state.update((s) => {
      const msgs = s.messages.slice();
      for (let i = msgs.length - 1; i >= 0; i--) {
        if (msgs[i].role === 'assistant' && msgs[i].streaming) {
          msgs[i] = fn(msgs[i]);
          break;
        }
      }
      return { ...s, messages: msgs };
    });
  }

  function flush() {
    flushQueued = false;
    if (!dirty) return;
    dirty = false;
    const text = parts.map((p) => p.text).join('');
    updateLast((m) => ({ ...m, content: text }));
  }

  function queueFlush() {
    dirty = true;
    if (flushQueued) return;
    flushQueued = true;
    schedule(flush);
  }

  function onToken(tok: ChatToken) {
    if (!tok || typeof tok.id !== 'string') return;
    const cur = get(state).streamId;
    if (cur && tok.id === cur) {
      insertPart(parts, { seq: tok.seq, text: tok.text ?? '' });
      queueFlush();
    } else if (!cur && awaitingId) {
      // Tokens can overtake the answer to Ask(): keep them until we know
      // whether this stream is ours.
      const l = early.get(tok.id) ?? [];
      insertPart(l, { seq: tok.seq, text: tok.text ?? '' });
      early.set(tok.id, l);
    }
  }

  function finish(done: ChatDone) {
    if (stopTimer) clearTimeout(stopTimer);
    stopTimer = null;
    const streamed = parts.map((p) => p.text).join('');
    parts = [];
    dirty = false;
    updateLast((m) => {
      if (done.error) {
        return { ...m, streaming: false, content: done.answer || streamed, error: done.error };
      }
      return {
        ...m,
        streaming: false,
        content: done.answer || streamed,
        citations: done.citations ?? [],
        followups: done.followups ?? [],
        notCovered: !!done.notCovered,
        ...(done.message ? { id: done.message } : {}),
      };
    });
    state.update((s) => ({
      ...s,
      streamId: '',
      busy: false,
      stopping: false,
      conversationId: done.conversation || s.conversationId,
    }));
    loadConversations().catch(() => {});
  }

  function onDone(done: ChatDone) {
    if (!done || typeof done.id !== 'string') return;
    const cur = get(state).streamId;
    if (cur && done.id === cur) finish(done);
    else if (!cur && awaitingId) earlyDone.set(done.id, done);
  }

  const unsubs = [on<ChatToken>(EVENTS.chatToken, onToken), on<ChatDone>(EVENTS.chatDone, onDone)];

  async function loadConversations() {
    const agent = get(state).agent;
    if (!agent) {
      state.update((s) => ({ ...s, conversations: [] }));
      return;
    }
    const list = (await call<Conversation[]>('ListConversations', agent)) ?? [];
    if (get(state).agent === agent) state.update((s) => ({ ...s, conversations: list }));
  }

  async function setAgent(name: string) {
    if (get(state).agent === name) return;
    state.update((s) => ({ ...s, agent: name, conversationId: '', messages: [], conversations: [] }));
    await loadConversations();
  }

  async function open(id: string) {
    state.update((s) => ({ ...s, loading: true }));
    try {
      const c = await call<Conversation>('GetConversation', id);
      state.update((s) => ({
        ...s,
        conversationId: c.id,
        messages: (c.messages ?? []).map((m) => ({ ...m })),
      }));
    } finally {
      state.update((s) => ({ ...s, loading: false }));
    }
  }

  function newConversation() {
    if (get(state).busy) return;
    state.update((s) => ({ ...s, conversationId: '', messages: [] }));
  }

  async function ask(question: string, image?: Attachment) {
    const q = question.trim();
    const s0 = get(state);
    if (!q || s0.busy || !s0.agent) return;
    parts = [];
    early.clear();
    earlyDone.clear();
    const at = now();
    state.update((s) => ({
      ...s,
      busy: true,
      stopping: false,
      messages: [
        ...s.messages,
        { role: 'user', content: q, citations: [], followups: [], at, ...(image ? { attachment: image.name } : {}) },
        { role: 'assistant', content: '', citations: [], followups: [], at, streaming: true },
      ],
    }));
    awaitingId = true;
    let id: string;
    try {
      id = image
        ? await call<string>('AskImage', s0.agent, s0.conversationId, q, image.dataUrl)
        : await call<string>('Ask', s0.agent, s0.conversationId, q);
    } catch (e) {
      awaitingId = false;
      updateLast((m) => ({ ...m, streaming: false, error: e instanceof Error ? e.message : String(e) }));
      state.update((s) => ({ ...s, busy: false }));
      throw e;
    }
    awaitingId = false;
    state.update((s) => ({ ...s, streamId: id }));
    for (const p of early.get(id) ?? []) insertPart(parts, p);
    early.clear();
    if (parts.length) queueFlush();
    const d = earlyDone.get(id);
    earlyDone.clear();
    if (d) finish(d);
  }

  async function stop() {
    const s = get(state);
    if (!s.busy || !s.streamId) return;
    state.update((x) => ({ ...x, stopping: true }));
    await call('StopAsk', s.streamId);
    // The server answers a stop with chat:done; if that never comes the
    // conversation must not stay locked.
    stopTimer = setTimeout(() => {
      const cur = get(state);
      if (cur.streamId === s.streamId) finish({ id: s.streamId, conversation: '', answer: '', citations: [], followups: [], error: '', notCovered: false });
    }, 5000);
  }

  async function vote(messageId: string, rating: 1 | -1 | 0, comment = '') {
    const conv = get(state).conversationId;
    if (!conv || !messageId) return;
    const m = await call<Message>('SetFeedback', conv, messageId, rating, comment);
    state.update((s) => ({
      ...s,
      messages: s.messages.map((x) => (x.id === messageId ? { ...x, feedback: m?.feedback ?? null } : x)),
    }));
  }

  function destroy() {
    for (const u of unsubs) u();
    if (stopTimer) clearTimeout(stopTimer);
  }

  return {
    subscribe: state.subscribe,
    setAgent,
    loadConversations,
    open,
    newConversation,
    ask,
    vote,
    stop,
    destroy,
  };
}

export function citationFor(list: Citation[] | null | undefined, n: number): Citation | undefined {
  return (list ?? []).find((c) => c.n === n);
}

/** A conversation as Markdown for the user to keep. */
export function toMarkdown(title: string, messages: Message[], labels: { you: string; assistant: string; sources: string }): string {
  const out: string[] = [`# ${title}`, ''];
  for (const m of messages) {
    out.push(`## ${m.role === 'user' ? labels.you : labels.assistant}`, '', m.content.trim(), '');
    const cites = (m.citations ?? []).filter((c) => c.used !== false);
    if (m.role === 'assistant' && cites.length) {
      out.push(`**${labels.sources}**`, '');
      for (const c of cites) out.push(`${c.n}. ${c.source}${c.page ? ` (p. ${c.page})` : ''}`);
      out.push('');
    }
  }
  return out.join('\n');
}

let main: ChatStore | null = null;
/** The Chat screen's session, kept while the user visits other screens. */
export function mainChat(): ChatStore {
  if (!main) main = createChat();
  return main;
}
