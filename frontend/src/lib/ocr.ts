import type { Box } from './types';

/**
 * A page read by a vision model has no word positions: its passages carry
 * one box covering the whole page (see Box in docs/api.md).
 */
export function isPageLevel(boxes: Box[]): boolean {
  return boxes.length > 0 && boxes.every((b) => b.x0 === 0 && b.y0 === 0 && b.x1 === 1 && b.y1 === 1);
}

/**
 * The "what to do" part of the extractor's sentence ("pages 2 and 3 are a
 * scan waiting for OCR: install Tesseract …"), for a line that already
 * says how many pages wait.
 */
export function ocrReason(why: string | undefined): string {
  if (!why) return '';
  const mark = 'waiting for OCR: ';
  const i = why.indexOf(mark);
  return i >= 0 ? why.slice(i + mark.length) : why;
}
