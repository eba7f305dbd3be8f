// MCP servers the user configured (Settings) and their tools, as the Go side
// lists them (ListAllMCPTools). An agent enables a tool as "mcp:<server>/<tool>".
import { call } from './transport';

export interface MCPTool {
  server: string;
  name: string;
  description: string;
  schema?: unknown;
}

export interface MCPServerFailed {
  server: string;
  error: string;
}

export interface MCPToolList {
  tools: MCPTool[];
  errors: MCPServerFailed[];
}

export const MCP_PREFIX = 'mcp:';

export function mcpID(t: { server: string; name: string }): string {
  return `${MCP_PREFIX}${t.server}/${t.name}`;
}

export async function listAllMCPTools(): Promise<MCPToolList> {
  const r = await call<MCPToolList | null>('ListAllMCPTools');
  return { tools: r?.tools ?? [], errors: r?.errors ?? [] };
}

/** Tools grouped by server, servers in name order (the Go side sorts tools). */
export function byServer(tools: MCPTool[]): { server: string; tools: MCPTool[] }[] {
  const m = new Map<string, MCPTool[]>();
  for (const t of tools) {
    if (!m.has(t.server)) m.set(t.server, []);
    m.get(t.server)!.push(t);
  }
  return [...m.keys()].sort().map((server) => ({ server, tools: m.get(server)! }));
}

/** The names of the servers in a pasted text, or an error key when it is not
 * JSON. The Go side validates the rest and says what is wrong in a sentence. */
export function serversIn(text: string): { servers: string[] } | { error: string } {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return { error: 'settings.mcpNotJSON' };
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) return { error: 'settings.mcpNotObject' };
  const o = v as Record<string, unknown>;
  const inner = (o.mcpServers ?? o) as Record<string, unknown>;
  if (!inner || typeof inner !== 'object' || Array.isArray(inner)) return { error: 'settings.mcpNotObject' };
  return { servers: Object.keys(inner) };
}
