import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { cleanup, fireEvent, render, waitFor } from '@testing-library/svelte';
import { get } from 'svelte/store';

const call = vi.fn();
vi.mock('../../../lib/transport', async (orig) => ({
  ...(await orig<typeof import('../../../lib/transport')>()),
  call: (...a: unknown[]) => call(...a),
}));

import Models from '../Models.svelte';
import { locale } from '../../../lib/i18n';
import { settings } from '../../../stores/settings';
import { ocrEngines } from '../../../stores/models';
import type { OCREngines, Settings } from '../../../lib/types';

let engines: OCREngines;

beforeEach(() => {
  ocrEngines.set(null);
  settings.set({ dataDir: '/d', ollamaURL: 'http://127.0.0.1:11434', language: 'en', theme: 'system', embedModel: 'e', chatModel: 'c' } as Settings);
  call.mockImplementation(async (method: string, ...args: unknown[]) => {
    switch (method) {
      case 'OllamaStatus':
        return { url: 'http://127.0.0.1:11434', reachable: true, version: '0.6.5', error: '', fix: '' };
      case 'GPUInfo':
        return { name: '', memoryBytes: 0, tool: '', note: '' };
      case 'ListModels':
        return [];
      case 'OCREngines':
        return engines;
      case 'SetOCRModel':
        if (args[0] === 'broken:latest') throw new Error('the OCR model broken:latest cannot be used');
        engines = { ...engines, model: args[0] as string };
        return engines;
    }
    throw new Error(`unexpected ${method}`);
  });
});

afterEach(() => {
  cleanup();
  call.mockReset();
  locale.set('en');
});

describe('OCR engine on the Models screen', () => {
  it('offers the installed vision models and saves the choice', async () => {
    engines = { model: '', vision: ['qwen2.5vl:7b', 'llava:latest'], tesseract: 'tesseract 5.3.0' };
    const r = render(Models);
    const select = (await r.findByTestId('ocr-model')) as HTMLSelectElement;
    expect([...select.options].map((o) => o.value)).toEqual(['', 'qwen2.5vl:7b', 'llava:latest']);
    expect(select.options[0].textContent).toBe('Tesseract (default)');
    expect(r.getByTestId('ocr-tesseract').textContent?.trim()).toBe('Tesseract is installed (tesseract 5.3.0).');
    expect(r.queryByTestId('ocr-no-vision')).toBeNull();
    select.value = 'llava:latest';
    await fireEvent.change(select);
    await waitFor(() => expect(r.getByTestId('ocr-saved').textContent).toBe('Scans and photos added from now on are read with llava:latest.'));
    expect(call).toHaveBeenCalledWith('SetOCRModel', 'llava:latest');
    // The Settings screen's copy follows, so saving it later keeps the engine.
    expect(get(settings)?.ocrModel).toBe('llava:latest');
    expect(r.queryByTestId('ocr-tesseract')).toBeNull();
  });

  it('says when no vision model is installed, and when Tesseract is missing, in both languages', async () => {
    engines = { model: '', vision: [], tesseract: '' };
    const r = render(Models);
    expect((await r.findByTestId('ocr-no-vision')).textContent).toContain('No vision model is installed');
    expect(r.getByTestId('ocr-tesseract').textContent).toContain('sudo apt install tesseract-ocr');
    expect([...(r.getByTestId('ocr-model') as HTMLSelectElement).options].map((o) => o.value)).toEqual(['']);
    cleanup();
    locale.set('zh-CN');
    const z = render(Models);
    expect((await z.findByTestId('ocr-no-vision')).textContent).toContain('尚未安装视觉模型');
  });

  it('shows the error and keeps the engine when the model cannot be used', async () => {
    engines = { model: '', vision: ['broken:latest'], tesseract: 'tesseract 5.3.0' };
    const r = render(Models);
    const select = (await r.findByTestId('ocr-model')) as HTMLSelectElement;
    select.value = 'broken:latest';
    await fireEvent.change(select);
    expect((await r.findByTestId('ocr-error')).textContent).toContain('cannot be used');
    expect(get(settings)?.ocrModel).toBeUndefined();
    await waitFor(() => expect((r.getByTestId('ocr-model') as HTMLSelectElement).value).toBe(''));
  });
});
