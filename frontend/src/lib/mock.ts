// Development-only stand-in for the Go side (loaded when the dev server is
// opened with ?mock=1; production builds never include it). It pretends to be
// the Wails runtime so the real transport code paths run.
import type { Agent, Conversation, Doc, KB, Settings } from './types';

type Handler = (...data: any[]) => void;

export function installMock() {
  const params = new URLSearchParams(location.search);
  const handlers = new Map<string, Set<Handler>>();
  const emit = (name: string, payload: unknown) => handlers.get(name)?.forEach((h) => h(payload));
  const now = new Date().toISOString();

  const settings: Settings = {
    dataDir: '/Users/lin/Library/Application Support/Atoll',
    ollamaURL: 'http://127.0.0.1:11434',
    language: (params.get('lang') as Settings['language']) ?? 'system',
    theme: (params.get('theme') as Settings['theme']) ?? 'system',
    embedModel: 'nomic-embed-text',
    chatModel: 'qwen2.5:7b',
  };
  const kbs: KB[] = [
    { name: 'Product manuals', embedModel: 'nomic-embed-text', docs: 3, chunks: 412, bytes: 5_340_000, pending: 1, failed: 1, created: now, fusion: { keyword: 0.92, meaning: 0.31, mode: 'keyword' } },
    { name: '合同', embedModel: '', docs: 0, chunks: 0, bytes: 0, pending: 0, failed: 0, created: now },
  ];
  const docs: Record<string, Doc[]> = {
    'Product manuals': [
      { path: '/docs/manual-x200.pdf', name: 'manual-x200.pdf', format: 'pdf', status: 'ok', error: '', chunks: 402, pages: 88, bytes: 4_100_000, ingested: now },
      { path: '/docs/warranty.md', name: 'warranty.md', format: 'md', status: 'pending', error: '', chunks: 10, pages: 0, bytes: 12_400, ingested: now },
      { path: '/docs/scan.pdf', name: 'scan.pdf', format: 'pdf', status: 'failed', error: 'This PDF has no text layer (it is a scan). Run OCR on it first, then add it again.', chunks: 0, pages: 0, bytes: 1_200_000, ingested: now },
    ],
    合同: [],
  };
  const agents: Agent[] = [
    {
      name: 'Support',
      description: 'Answers customer questions from the manuals',
      language: '',
      system: 'You are a friendly support agent. Answer only from the documents.',
      opening: 'Hi! Ask me anything about the **X200**.',
      starters: ['How do I reset the X200?', 'What does the warranty cover?'],
      model: '',
      kbs: ['Product manuals'],
      temperature: 0.2,
      followups: true,
      memory: true,
      version: 3,
      updated: now,
    },
  ];
  const conversations: Conversation[] = [
    {
      id: 'c1',
      agent: 'Support',
      title: 'Resetting the device',
      updated: now,
      messages: [
        { role: 'user', content: 'How do I reset the X200?', citations: [], followups: [], at: now },
        {
          role: 'assistant',
          content:
            'Hold the **power** button for 10 seconds [1], then release it when the light blinks blue [2].\n\n- Your settings are kept\n- Paired devices are forgotten [1]\n\n<img src=x onerror=alert(1)> `code`',
          citations: [
            { n: 1, source: '/docs/manual-x200.pdf', page: 12, text: 'To reset the X200, hold the power button for ten seconds.', used: true, headings: ['Troubleshooting', 'Reset'] },
            { n: 2, source: '/docs/manual-x200.pdf', page: 13, text: 'The status light blinks blue when the device restarts.', used: true },
          ],
          followups: ['Will a reset delete my data?', 'How do I pair it again?'],
          at: now,
        },
      ],
    },
  ];
  if (params.has('empty')) {
    kbs.length = 0;
    agents.length = 0;
    conversations.length = 0;
  }
  let job = 0;
  let stream = 0;
  const stopped = new Set<string>();
  const sources: Record<string, any[]> = {};
  const down = params.get('ollama') === 'down';

  const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

  const App: Record<string, (...a: any[]) => Promise<any>> = {
    async ListKBs() {
      return kbs;
    },
    async CreateKB(name: string, embedModel: string) {
      if (kbs.some((k) => k.name === name)) throw new Error(`A knowledge base named “${name}” already exists. Pick another name.`);
      const kb = { name, embedModel, docs: 0, chunks: 0, bytes: 0, pending: 0, failed: 0, created: new Date().toISOString() };
      kbs.push(kb);
      docs[name] = [];
      return kb;
    },
    async RemoveKB(name: string) {
      kbs.splice(kbs.findIndex((k) => k.name === name), 1);
      return null;
    },
    async AgentCheck(name: string) {
      return { agent: name, kb: '', changed: [], state: '', total: 0, failing: [] };
    },
    async ListSources(kb: string) {
      return sources[kb] ?? [];
    },
    async AddWebsite(kb: string, url: string, depth: number, _maxPages: number, schedule: string) {
      if (!/^https?:\/\//.test(url)) throw new Error(`${url} is not a web address: it must start with http:// or https://`);
      const now = new Date().toISOString();
      (sources[kb] ??= []).push({
        id: url, kind: depth > 0 ? 'crawl' : 'page', schedule: schedule || 'off', watch: false, lastSync: now, nextSync: null,
        docs: 1, chunks: 3, changed: 1, unchanged: 0, removed: 0, failed: 0, requests: 2, notModified: 0, errors: [],
      });
      return App.Ingest(kb, [url]);
    },
    async SyncSource(kb: string, id: string) {
      return App.Ingest(kb, [id]);
    },
    async RemoveSource(kb: string, id: string) {
      const s = (sources[kb] ?? []).find((x) => x.id === id);
      sources[kb] = (sources[kb] ?? []).filter((x) => x.id !== id);
      return s?.docs ?? 0;
    },
    async SetSourceSchedule(kb: string, id: string, schedule: string) {
      const s = (sources[kb] ?? []).find((x) => x.id === id);
      if (s) s.schedule = schedule;
      return null;
    },
    async SetSourceWatch(kb: string, id: string, on: boolean) {
      const s = (sources[kb] ?? []).find((x) => x.id === id);
      if (s) s.watch = on;
      return null;
    },
    async ListDocuments(kb: string) {
      return docs[kb] ?? [];
    },
    async DocumentChunks(_kb: string, path: string) {
      const n = path.endsWith('x200.pdf') ? 402 : 10;
      return Array.from({ length: n }, (_, i) => ({
        id: `${path}#${i}`,
        source: path,
        page: Math.floor(i / 5) + 1,
        headings: ['Chapter ' + (Math.floor(i / 40) + 1)],
        start: i * 800,
        end: i * 800 + 790,
        text: `Passage ${i + 1}. The X200 supports fast charging over USB-C. Keep the device away from water. `.repeat(3),
      }));
    },
    async RemoveDocument(kb: string, path: string) {
      docs[kb] = docs[kb].filter((d) => d.path !== path);
      return null;
    },
    async Ingest(kb: string, paths: string[]) {
      const id = `job-${++job}`;
      (async () => {
        const files = Math.max(paths.length, 5);
        for (let i = 0; i <= files; i++) {
          await wait(700);
          emit('ingest:progress', {
            job: id, kb, files, filesDone: i, chunks: i * 40, bytes: files * 1e6, bytesDone: i * 1e6,
            rate: 1.4e6, etaSeconds: (files - i) * 0.7, current: `/docs/file-${i + 1}.pdf`,
          });
        }
        emit('ingest:done', {
          job: id, kb, ok: files - 1, failed: 1, skipped: 0, chunks: files * 40, seconds: files * 0.7, pending: 0,
          errors: [{ file: '/docs/broken.docx', reason: 'The file is damaged and could not be opened. Save it again from Word and re-add it.' }],
          cancelled: false,
        });
      })();
      return id;
    },
    async CancelJob() {
      return null;
    },
    async ChooseFiles() {
      return ['/docs/a.pdf', '/docs/b.md'];
    },
    async ChooseFolder() {
      return '/docs';
    },
    async Search(kb: string, q: string) {
      await wait(200);
      return [
        { source: '/docs/manual-x200.pdf', page: 12, text: `…${q}… To reset the X200, hold the power button for ten seconds.`, score: 0.812, headings: ['Troubleshooting'], kb },
        { source: '/docs/warranty.md', page: 0, text: 'The warranty covers manufacturing defects for two years.', score: 0.55, headings: [], kb },
      ];
    },
    async ListAgents() {
      return agents;
    },
    async GetAgent(name: string) {
      const a = agents.find((x) => x.name === name);
      if (!a) throw new Error(`No agent named “${name}”.`);
      return { ...a };
    },
    async SaveAgent(a: Agent) {
      const i = agents.findIndex((x) => x.name === a.name);
      const saved = { ...a, version: (i >= 0 ? agents[i].version : 0) + 1, updated: new Date().toISOString() };
      if (i >= 0) agents[i] = saved;
      else agents.push(saved);
      return saved;
    },
    async DeleteAgent(name: string) {
      agents.splice(agents.findIndex((x) => x.name === name), 1);
      return null;
    },
    async DraftAgent(sentence: string, kbsSel: string[], model: string) {
      await wait(600);
      return {
        agent: {
          name: 'Draft agent', description: sentence, language: '', system: `You are: ${sentence}`, opening: 'Hello! How can I help?',
          starters: ['What can you do?'], model, kbs: kbsSel, temperature: 0.3, followups: true, memory: false, version: 0, updated: '',
        },
        note: '',
      };
    },
    async Ask(agent: string, conv: string, q: string) {
      const id = `s-${++stream}`;
      const answer = `Here is what the manual says about “${q}”: hold the power button for ten seconds [1]. The light then blinks blue [2].`;
      const words = answer.split(/(?<= )/);
      (async () => {
        let seq = 0;
        for (let i = 0; i < words.length; i += 2) {
          await wait(60);
          if (stopped.has(id)) break;
          emit('chat:token', { id, seq: seq++, text: words.slice(i, i + 2).join('') });
        }
        let c = conversations.find((x) => x.id === conv);
        if (!c) {
          c = { id: `c${conversations.length + 1}`, agent, title: q.slice(0, 40), updated: new Date().toISOString(), messages: [] };
          conversations.unshift(c);
        }
        emit('chat:done', {
          id, conversation: c.id, answer: stopped.has(id) ? '' : answer,
          citations: [
            { n: 1, source: '/docs/manual-x200.pdf', page: 12, text: 'To reset the X200, hold the power button for ten seconds.', used: true, headings: ['Troubleshooting', 'Reset'] },
            { n: 2, source: '/docs/manual-x200.pdf', page: 13, text: 'The status light blinks blue when the device restarts.', used: true },
          ],
          followups: ['Does a reset delete my data?'], error: q.includes('fail') ? 'The model stopped answering. Check that Ollama is still running.' : '',
          notCovered: q.includes('?') === false && q.includes('weather'),
        });
      })();
      return id;
    },
    async StopAsk(id: string) {
      stopped.add(id);
      return null;
    },
    async ListConversations(agent: string) {
      return conversations.filter((c) => c.agent === agent);
    },
    async GetConversation(id: string) {
      return conversations.find((c) => c.id === id);
    },
    async OllamaStatus() {
      return down
        ? { url: settings.ollamaURL, reachable: false, version: '', error: 'connection refused', fix: 'ollama serve' }
        : { url: settings.ollamaURL, reachable: true, version: '0.12.3', error: '', fix: '' };
    },
    async ListModels() {
      return [
        { name: 'qwen2.5:7b', family: 'qwen2', parameterSize: '7.6B', quantization: 'Q4_K_M', size: 4_683_087_332, contextLength: 32768, capabilities: ['completion', 'tools'] },
        { name: 'nomic-embed-text:latest', family: 'nomic-bert', parameterSize: '137M', quantization: 'F16', size: 274_302_450, contextLength: 2048, capabilities: ['embedding'] },
      ];
    },
    async GetSettings() {
      return { ...settings };
    },
    async SaveSettings(s: Settings) {
      Object.assign(settings, s);
      return { ...settings };
    },
    async About() {
      return { version: '0.1.0-dev', goVersion: 'go1.24.1', wails: 'v2.10.1', dataDir: settings.dataDir, ollamaURL: settings.ollamaURL };
    },
  };

  window.go = { app: { App } };
  window.runtime = {
    EventsOn(name: string, cb: Handler) {
      let s = handlers.get(name);
      if (!s) handlers.set(name, (s = new Set()));
      s.add(cb);
      return () => s!.delete(cb);
    },
    EventsOff(name: string) {
      handlers.delete(name);
    },
  };
}
