// The channel form's rules, kept out of the component so they are tested
// alone. Field lists come from Go (ChannelKinds), never from here.

export interface ChannelField {
  key: string;
  label: string;
  help: string;
  secret: boolean;
  required: boolean;
}

export interface ChannelKind {
  kind: string;
  webhook: string;
  fields: ChannelField[];
}

/** The kind's required fields left blank. */
export function missingFields(kind: ChannelKind | undefined, values: Record<string, string>): ChannelField[] {
  if (!kind) return [];
  return kind.fields.filter((f) => f.required && !(values[f.key] ?? '').trim());
}

/** The settings to send: only the kind's own keys, trimmed, blanks left out
 * (values typed for another kind before switching stay behind). */
export function settingsFor(kind: ChannelKind | undefined, values: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of kind?.fields ?? []) {
    const v = (values[f.key] ?? '').trim();
    if (v) out[f.key] = v;
  }
  return out;
}

/** A base URL the hub accepts: empty, or http(s)://… */
export function validApiBase(s: string): boolean {
  const v = s.trim();
  return v === '' || /^https?:\/\/[^\s]+$/.test(v);
}
