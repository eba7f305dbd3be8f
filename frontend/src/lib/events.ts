// Event names shared with the Go side (app/events.go). A Go test reads this
// file and compares the lists, so keep it one flat object of string literals.
export const EVENTS = {
  ingestProgress: 'ingest:progress',
  ingestDone: 'ingest:done',
  chatToken: 'chat:token',
  chatDone: 'chat:done',
  modelsPull: 'models:pull',
  publishProgress: 'publish:progress',
  toolConfirm: 'tool:confirm',
} as const;

export type EventName = (typeof EVENTS)[keyof typeof EVENTS];
