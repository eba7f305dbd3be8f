import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { cleanup, fireEvent, render, waitFor } from '@testing-library/svelte';
import { calls, resetTransport } from '../../../lib/__tests__/fakes';
import { missingFields, settingsFor, validApiBase, type ChannelKind } from '../channelForm';

// A fake hub behind the app's calls: channels are kept here with their
// secrets masked as the hub masks them, so the panel must show what the
// calls return, never what was typed.
let chans: any[] = [];
let failTest = '';
const KINDS: ChannelKind[] = [
  {
    kind: 'telegram',
    webhook: 'call setWebhook with url=WEBHOOK and secret_token=SECRET_TOKEN',
    fields: [
      { key: 'bot_token', label: 'Bot token', help: 'the token @BotFather gave the bot', secret: true, required: true },
      { key: 'secret_token', label: 'Secret token', help: 'a random string', secret: true, required: true },
    ],
  },
  {
    kind: 'whatsapp',
    webhook: 'Configuration → Webhook',
    fields: [
      { key: 'access_token', label: 'Access token', help: '', secret: true, required: true },
      { key: 'phone_number_id', label: 'Phone number ID', help: '', secret: false, required: true },
      { key: 'api_version', label: 'API version', help: 'default v21.0', secret: false, required: false },
    ],
  },
];
vi.mock('../../../lib/transport', async (orig) =>
  (await import('../../../lib/__tests__/fakes')).fakeTransport(orig, async (method, args) => {
    switch (method) {
      case 'PublishedAgents':
        return [{ name: 'baker', version: 1, latest: 1, access: 'open' }];
      case 'ChannelKinds':
        return KINDS;
      case 'Channels':
        return chans.map((c) => ({ ...c }));
      case 'AddChannel': {
        const settings = args[2] as Record<string, string>;
        const config: Record<string, string> = {};
        for (const [k, v] of Object.entries(settings)) config[k] = k.endsWith('token') ? '••••' + v.slice(-4) : v;
        const c = { id: 'c' + (chans.length + 1), kind: args[1], agent: 'baker', webhook: `https://hub.example/ch/c${chans.length + 1}`, config, status: { received: 3, answered: 2, failed: 1, duplicates: 0, rejected: 4, votes: 5, last_message: '2026-11-30T10:00:00Z' } };
        chans.push(c);
        return c;
      }
      case 'RemoveChannel':
        chans = chans.filter((c) => c.id !== args[1]);
        return null;
      case 'SendChannelTest':
        if (failTest) throw new Error(failTest);
        return null;
      default:
        return [];
    }
  }),
);

import AgentChannels from '../AgentChannels.svelte';
import { locale } from '../../../lib/i18n';

const BOT = '123456:ABC-secret-bot-token-WXYZ';

beforeEach(() => {
  locale.set('en');
  resetTransport();
  chans = [];
  failTest = '';
});
afterEach(cleanup);

describe('channel form rules', () => {
  it('needs the required fields, sends only the kind’s own keys, checks the API base', () => {
    const tg = KINDS[0];
    expect(missingFields(tg, { bot_token: ' ' }).map((f) => f.key)).toEqual(['bot_token', 'secret_token']);
    expect(missingFields(tg, { bot_token: 'a', secret_token: 'b' })).toEqual([]);
    expect(settingsFor(tg, { bot_token: ' a ', secret_token: 'b', phone_number_id: 'left from whatsapp' })).toEqual({ bot_token: 'a', secret_token: 'b' });
    expect(settingsFor(KINDS[1], { access_token: 'x', phone_number_id: '1', api_version: '' })).toEqual({ access_token: 'x', phone_number_id: '1' });
    expect(validApiBase('')).toBe(true);
    expect(validApiBase('http://127.0.0.1:8081')).toBe(true);
    expect(validApiBase('ftp://x')).toBe(false);
  });
});

describe('publish screen: channels', () => {
  it('adds a channel from the kind’s fields, shows its webhook and status but never its secret, tests and removes it', async () => {
    const r = render(AgentChannels, { agent: 'baker', version: 1 });
    await r.findByTestId('publish-channels');
    await waitFor(() => expect(r.getByTestId('channel-none')).toBeTruthy());
    // The fields are the kind's, from Go; secrets are password inputs.
    const bot = (await r.findByTestId('channel-field-bot_token')) as HTMLInputElement;
    expect(bot.type).toBe('password');
    expect((r.getByTestId('channel-field-secret_token') as HTMLInputElement).type).toBe('password');
    expect((r.getByTestId('channel-add') as HTMLButtonElement).disabled).toBe(true);
    expect(r.getByTestId('channel-missing').textContent).toContain('Bot token');

    // Switching kind shows the other kind's fields, a plain one as text.
    await fireEvent.change(r.getByTestId('channel-kind'), { target: { value: 'whatsapp' } });
    expect(((await r.findByTestId('channel-field-phone_number_id')) as HTMLInputElement).type).toBe('text');
    expect(r.queryByTestId('channel-field-bot_token')).toBeNull();
    await fireEvent.change(r.getByTestId('channel-kind'), { target: { value: 'telegram' } });

    await fireEvent.input(r.getByTestId('channel-field-bot_token'), { target: { value: BOT } });
    await fireEvent.input(r.getByTestId('channel-field-secret_token'), { target: { value: 'hook_secret' } });
    await fireEvent.input(r.getByTestId('channel-api-base'), { target: { value: 'ftp://nope' } });
    expect((r.getByTestId('channel-add') as HTMLButtonElement).disabled).toBe(true);
    await fireEvent.input(r.getByTestId('channel-api-base'), { target: { value: 'http://127.0.0.1:9' } });
    expect((r.getByTestId('channel-add') as HTMLButtonElement).disabled).toBe(false);
    await fireEvent.click(r.getByTestId('channel-add'));

    await waitFor(() => expect(r.getAllByTestId('channel-row')).toHaveLength(1));
    const add = calls.find((c) => c.method === 'AddChannel')!;
    expect(add.args).toEqual(['baker', 'telegram', { bot_token: BOT, secret_token: 'hook_secret' }, 'http://127.0.0.1:9']);
    expect(r.getByTestId('channel-webhook').textContent).toBe('https://hub.example/ch/c1');
    expect(r.getByTestId('channel-added').textContent).toContain('setWebhook');
    expect(r.getByTestId('channel-counts').textContent).toContain('3 received, 2 answered, 1 failed, 0 retries ignored, 4 refused, 5 votes');
    // Saved, the secret leaves the form; the page shows only its mask.
    expect((r.getByTestId('channel-field-bot_token') as HTMLInputElement).value).toBe('');
    expect(r.container.innerHTML).not.toContain(BOT);
    expect(r.container.innerHTML).not.toContain('hook_secret');
    expect(r.getByTestId('channel-config').textContent).toContain('••••WXYZ');

    // A test message goes to the recipient; a refusal shows the sentence.
    const send = r.getByTestId('channel-test-send') as HTMLButtonElement;
    expect(send.disabled).toBe(true);
    await fireEvent.input(r.getByTestId('channel-test-to'), { target: { value: '42' } });
    await fireEvent.input(r.getByTestId('channel-test-text'), { target: { value: 'Hi there' } });
    await fireEvent.click(send);
    await waitFor(() => expect(r.getByTestId('channel-test-result').textContent).toBe('Sent to 42.'));
    expect(calls.find((c) => c.method === 'SendChannelTest')!.args).toEqual(['baker', 'c1', '42', 'Hi there']);
    failTest = 'the hub refused to send the test message (502 Bad Gateway): telegram sendMessage failed: Bad Request: chat not found.';
    await fireEvent.click(send);
    await waitFor(() => expect(r.getByTestId('channel-test-result').textContent).toContain('chat not found'));

    // Removal asks first.
    await fireEvent.click(r.getByTestId('channel-remove'));
    expect(calls.some((c) => c.method === 'RemoveChannel')).toBe(false);
    await fireEvent.click(r.getByTestId('channel-remove-yes'));
    await waitFor(() => expect(r.getByTestId('channel-none')).toBeTruthy());
    expect(calls.find((c) => c.method === 'RemoveChannel')!.args).toEqual(['baker', 'c1']);
  });

  it('shows nothing for an agent the hub does not serve', async () => {
    const r = render(AgentChannels, { agent: 'nobody', version: 0 });
    await waitFor(() => expect(calls.some((c) => c.method === 'PublishedAgents')).toBe(true));
    expect(r.queryByTestId('publish-channels')).toBeNull();
    expect(calls.some((c) => c.method === 'Channels')).toBe(false);
  });
});
