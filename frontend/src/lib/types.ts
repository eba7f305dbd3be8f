// Mirrors the JSON types in docs/api.md. Keep field names identical.

export interface KB {
  name: string;
  embedModel: string;
  nextEmbedModel?: string;
  docs: number;
  chunks: number;
  bytes: number;
  pending: number;
  failed: number;
  /** Pages of scans and photos waiting for OCR, and what to do about it. */
  ocrPending?: number;
  ocrPendingWhy?: string;
  created: string;
  // How far hybrid search trusts each side; absent until measured.
  fusion?: { keyword: number; meaning: number; mode: 'keyword' | 'meaning' | 'mostlyKeyword' | 'mostlyMeaning' | 'both' };
}

export type DocStatus = 'ok' | 'failed' | 'pending';

export interface Doc {
  path: string;
  name: string;
  format: string;
  status: DocStatus;
  error: string;
  warnings?: string[] | null;
  chunks: number;
  pages: number;
  bytes: number;
  ingested: string;
  /** Pages (1 for an image) waiting for OCR. */
  ocrPending?: number;
}

export interface Chunk {
  id: string;
  source: string;
  page: number;
  headings: string[] | null;
  start: number;
  end: number;
  text: string;
}

export interface Hit {
  source: string;
  page: number;
  text: string;
  score: number;
  headings: string[] | null;
  kb: string;
  // Other files holding the same passage.
  alsoIn?: string[];
}

export interface Agent {
  name: string;
  avatar?: string;
  description: string;
  language: string;
  system: string;
  opening: string;
  starters: string[] | null;
  model: string;
  kbs: string[] | null;
  temperature: number;
  /** Tokens of context to ask the model for; 0 or absent: the model's own. */
  numCtx?: number;
  followups: boolean;
  memory: boolean;
  tools?: string[] | null;
  /** Tools ("http:NAME", "mcp:SERVER/TOOL") whose calls run without asking. */
  allow?: string[] | null;
  leadForm?: LeadForm | null;
  version: number;
  updated: string;
}

export interface LeadField {
  name: string;
  label: string;
  type: 'text' | 'phone' | 'email' | 'date' | 'number';
  required: boolean;
}

export interface LeadForm {
  fields: LeadField[];
}

export interface AgentDraft {
  agent: Agent;
  note: string;
}

export interface Citation {
  n: number;
  source: string;
  page: number;
  text: string;
  used: boolean;
  headings?: string[] | null;
  /** Where the passage is on a scanned page or image (OCR'd text). */
  boxes?: Box[] | null;
}

/** A photo attached to a question. */
export interface Attachment {
  name: string;
  dataUrl: string;
}

/** A rectangle on a page image, in fractions of its size, origin top left. */
export interface Box {
  page: number;
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

/** The one vote on an answer. */
export interface Feedback {
  rating: 1 | -1;
  comment?: string;
  at: string;
}

export interface Message {
  /** Names the message for feedback; absent on an answer not stored. */
  id?: string;
  feedback?: Feedback | null;
  notCovered?: boolean;
  ttftSeconds?: number;
  role: 'user' | 'assistant';
  content: string;
  citations: Citation[] | null;
  followups: string[] | null;
  at: string;
}

export interface Conversation {
  id: string;
  agent: string;
  title: string;
  messages: Message[] | null;
  updated: string;
}

export interface OllamaStatus {
  url: string;
  reachable: boolean;
  version: string;
  error: string;
  fix: string;
}

export interface Model {
  name: string;
  family: string;
  parameterSize: string;
  quantization: string;
  size: number;
  contextLength: number;
  capabilities: string[] | null;
  loaded?: boolean;
  vram?: number;
  fits?: 'gpu' | 'partial' | 'cpu' | '';
  recommended?: boolean;
}

export interface GPU {
  name: string;
  memoryBytes: number;
  tool: string;
  note: string;
}

export interface PullEvent {
  job: string;
  name: string;
  status: string;
  total: number;
  completed: number;
  done: boolean;
  error: string;
}

export type Language = 'system' | 'en' | 'zh-CN';
export type Theme = 'system' | 'light' | 'dark';

export interface Settings {
  dataDir: string;
  ollamaURL: string;
  language: Language;
  theme: Theme;
  embedModel: string;
  chatModel: string;
  memoryOff?: boolean;
  allowRemoteOllama?: boolean;
  /** The vision model reading scans and photos; "" or absent: Tesseract. */
  ocrModel?: string;
}

/** How scans and photos are read (OCREngines). */
export interface OCREngines {
  model: string;
  vision: string[];
  tesseract: string;
  error?: string;
}

export interface About {
  version: string;
  goVersion: string;
  wails: string;
  dataDir: string;
  ollamaURL: string;
}

export interface IngestProgress {
  job: string;
  kb: string;
  files: number;
  filesDone: number;
  chunks: number;
  bytes: number;
  bytesDone: number;
  rate: number;
  etaSeconds: number;
  current: string;
  phase?: 'reading' | 'ocr' | 'embedding';
  /** The page being read by OCR (phase "ocr"), of ocrPages. */
  ocrPage?: number;
  ocrPages?: number;
  embedded?: number;
  toEmbed?: number;
  pages?: number;
  filePage?: number;
  filePages?: number;
}

export interface IngestDone {
  job: string;
  kb: string;
  ok: number;
  failed: number;
  skipped: number;
  removed?: number;
  ignored?: number;
  ignoredTypes?: { ext: string; files: number }[];
  chunks: number;
  seconds: number;
  pending: number;
  /** Pages of scans and photos in the knowledge base waiting for OCR. */
  ocrPending?: number;
  ocrPendingWhy?: string;
  errors: { file: string; reason: string }[] | null;
  cancelled: boolean;
}

export interface ChatToken {
  id: string;
  seq: number;
  text: string;
}

export interface ChatDone {
  id: string;
  conversation: string;
  /** The stored answer's id, for feedback ("" when not stored). */
  message?: string;
  answer: string;
  citations: Citation[] | null;
  followups: string[] | null;
  error: string;
  notCovered: boolean;
}

export function emptyAgent(): Agent {
  return {
    name: '',
    description: '',
    language: '',
    system: '',
    opening: '',
    starters: [],
    model: '',
    kbs: [],
    temperature: 0.2,
    followups: true,
    memory: false,
    version: 0,
    updated: '',
  };
}

/** Where a knowledge base's documents come from (ListSources). */
export interface Source {
  id: string;
  kind: 'page' | 'sitemap' | 'crawl' | 'folder' | 'file';
  schedule: 'off' | 'hourly' | 'daily' | 'weekly';
  watch: boolean;
  lastSync: string | null;
  nextSync: string | null;
  docs: number;
  chunks: number;
  changed: number;
  unchanged: number;
  removed: number;
  failed: number;
  requests: number;
  notModified: number;
  errors: { file: string; reason: string }[];
}

/** The agent's test set, run again after its knowledge changed (AgentCheck). */
export interface KnowledgeCheck {
  agent: string;
  kb: string;
  changed: string[];
  state: '' | 'waiting' | 'running' | 'done' | 'error';
  ranAt?: string;
  total: number;
  failing: string[];
  error?: string;
}

/** A group of questions asking the same thing (analytics). */
export interface QuestionGroup {
  question: string;
  count: number;
  variants: string[] | null;
}

export interface AnalyticsDay {
  date: string;
  conversations: number;
  questions: number;
  notCovered: number;
  up: number;
  down: number;
  leads: number;
}

export interface AnalyticsReport {
  agent: string;
  from: string;
  to: string;
  days: AnalyticsDay[];
  conversations: number;
  questions: number;
  answered: number;
  notCovered: number;
  up: number;
  down: number;
  leads: number;
  ttftMedian: number;
  ttftP95: number;
  timed: number;
  topQuestions: QuestionGroup[] | null;
  unanswered: QuestionGroup[] | null;
  grouping: 'embedding' | 'lexical';
  /** From the hub: how long it keeps conversations, and whether the period was shortened to it. */
  retentionDays?: number;
  clamped?: boolean;
  /** From the hub: the period held more answers than one report reads. */
  truncated?: boolean;
}

/** An answer to look at again: voted down, or not covered. */
export interface ReviewItem {
  id: string;
  origin: 'local' | 'hub';
  agent: string;
  conversation: string;
  message: string;
  at: string;
  question: string;
  answer: string;
  passages: Citation[] | null;
  notCovered: boolean;
  rating: number;
  comment: string;
  corrected: boolean;
}
