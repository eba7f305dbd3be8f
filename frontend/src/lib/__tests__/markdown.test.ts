import { describe, expect, it } from 'vitest';
import { render } from '../markdown';

function dom(html: string) {
  const div = document.createElement('div');
  div.innerHTML = html;
  return div;
}

function assertInert(html: string) {
  const d = dom(html);
  expect(d.querySelectorAll('script, iframe, object, embed, img, svg, math, style, form, input, link, meta, base').length).toBe(0);
  for (const el of d.querySelectorAll('*')) {
    for (const attr of el.getAttributeNames()) {
      expect(attr.startsWith('on'), `${el.tagName} ${attr}`).toBe(false);
      const v = el.getAttribute(attr) ?? '';
      expect(/^\s*(javascript|vbscript|data):/i.test(v), `${el.tagName} ${attr}=${v}`).toBe(false);
    }
  }
}

describe('render', () => {
  it('renders ordinary Markdown', () => {
    const d = dom(render('# Title\n\nSome **bold** and `code`.\n\n- a\n- b'));
    expect(d.querySelector('h1')?.textContent).toBe('Title');
    expect(d.querySelector('strong')?.textContent).toBe('bold');
    expect(d.querySelectorAll('li').length).toBe(2);
  });

  const payloads = [
    '<script>alert(1)</script>',
    'hello <img src=x onerror="alert(1)"> world',
    '[click](javascript:alert(1))',
    '[click](JaVaScRiPt:alert(1))',
    '<a href="javascript:alert(1)">x</a>',
    '<iframe src="https://evil.example"></iframe>',
    '<svg onload="alert(1)"><script>alert(1)</script></svg>',
    '<svg><animate onbegin="alert(1)" attributeName="x"/></svg>',
    '<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>',
    '![x](https://tracker.example/p.png)',
    '<div style="background:url(javascript:alert(1))" onclick="alert(1)">x</div>',
    '<form action="javascript:alert(1)"><button>go</button></form>',
    '```html\n<script>alert(1)</script>\n```',
    '<details open ontoggle=alert(1)>',
    '[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)',
  ];

  for (const p of payloads) {
    it(`neutralises ${p.slice(0, 40)}`, () => {
      assertInert(render(p));
    });
  }

  it('shows raw HTML as text instead of dropping it silently', () => {
    const d = dom(render('a <b>bold?</b> c'));
    expect(d.querySelector('b')).toBeNull();
    expect(d.textContent).toContain('<b>bold?</b>');
  });

  it('opens web links in a new window without opener', () => {
    const a = dom(render('[site](https://example.com)')).querySelector('a')!;
    expect(a.getAttribute('href')).toBe('https://example.com');
    expect(a.getAttribute('target')).toBe('_blank');
    expect(a.getAttribute('rel')).toContain('noopener');
  });

  it('turns citation markers into buttons', () => {
    const d = dom(render('Hold it for ten seconds [1], then release [2].'));
    const buttons = d.querySelectorAll('button.cite');
    expect(buttons.length).toBe(2);
    expect(buttons[0].getAttribute('data-n')).toBe('1');
    expect(buttons[1].getAttribute('data-testid')).toBe('cite-2');
    expect(buttons[0].getAttribute('type')).toBe('button');
  });

  it('only makes buttons for known citations when told which exist', () => {
    const d = dom(render('see [1] and [7]', { cites: [1] }));
    expect(d.querySelectorAll('button.cite').length).toBe(1);
    expect(d.textContent).toContain('[7]');
  });

  it('leaves links and code alone', () => {
    const d = dom(render('[1](https://example.com) and `a[1]`'));
    expect(d.querySelectorAll('button.cite').length).toBe(0);
    expect(d.querySelector('a')?.textContent).toBe('1');
    expect(d.querySelector('code')?.textContent).toBe('a[1]');
  });
});
