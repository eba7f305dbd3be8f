import { get } from 'svelte/store';
import { locale } from './i18n';

export function bytes(n: number | undefined | null): string {
  if (n == null || !isFinite(n) || n < 0) return '—';
  if (n < 1024) return `${n} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v >= 100 ? v.toFixed(0) : v.toFixed(1)} ${units[i]}`;
}

export function rate(bytesPerSecond: number): string {
  if (!bytesPerSecond || bytesPerSecond <= 0) return '—';
  return `${bytes(Math.round(bytesPerSecond))}/s`;
}

export function duration(seconds: number | undefined | null): string {
  if (seconds == null || !isFinite(seconds) || seconds < 0) return '—';
  const s = Math.round(seconds);
  const zh = get(locale) === 'zh-CN';
  if (s < 60) return zh ? `${s} 秒` : `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return zh ? `${m} 分 ${s % 60} 秒` : `${m}m ${String(s % 60).padStart(2, '0')}s`;
  const h = Math.floor(m / 60);
  return zh ? `${h} 小时 ${m % 60} 分` : `${h}h ${String(m % 60).padStart(2, '0')}m`;
}

export function num(n: number | undefined | null): string {
  if (n == null || !isFinite(n)) return '—';
  return new Intl.NumberFormat(get(locale)).format(n);
}

export function date(iso: string | undefined | null, short = false): string {
  if (!iso) return '';
  const d = new Date(iso);
  // Go's zero time marshals as 0001-01-01: treat it as "no date".
  if (isNaN(d.getTime()) || d.getFullYear() < 1971) return '';
  return new Intl.DateTimeFormat(get(locale), { dateStyle: short ? 'short' : 'medium', timeStyle: 'short' }).format(d);
}

export function percent(done: number, total: number): number {
  if (!total || total <= 0) return 0;
  return Math.max(0, Math.min(100, Math.round((done / total) * 100)));
}

/** The file name of a path, whichever separator the OS used. */
export function baseName(p: string): string {
  const parts = (p ?? '').split(/[\\/]/);
  return parts[parts.length - 1] || p;
}
