// The public chat page: streams answers from /v1/chat/completions. Every
// piece of model or document text is inserted as text, never as HTML.
(function () {
  'use strict';
  var body = document.body;
  var agent = body.dataset.agent;
  var log = document.getElementById('log');
  var form = document.getElementById('f');
  var q = document.getElementById('q');
  var conversation = '';
  var busy = false;
  // The page's language is the agent's (pages.go); the strings match the
  // desktop's feedback wording.
  var zh = (document.documentElement.lang || '').indexOf('zh') === 0;
  var T = zh ? {
    up: '回答有帮助', down: '回答不好', comment: '评论',
    placeholderDown: '哪里不对，或应该怎么回答？（可选）', placeholderUp: '哪里好？（可选）',
    send: '发送', thanks: '感谢反馈', failed: '反馈未保存：', retry: '请稍后再试。'
  } : {
    up: 'Good answer', down: 'Bad answer', comment: 'Comment',
    placeholderDown: 'What was wrong, or what should it have said? (optional)', placeholderUp: 'What was good? (optional)',
    send: 'Send', thanks: 'Thanks for the feedback', failed: 'Your feedback was not saved: ', retry: 'try again in a moment.'
  };

  // headers are the same for chat and feedback, so a key the page is ever
  // given reaches both.
  function headers() {
    return { 'Content-Type': 'application/json' };
  }

  function add(cls, text) {
    var d = document.createElement('div');
    d.className = 'msg ' + cls;
    d.textContent = text;
    log.appendChild(d);
    log.scrollTop = log.scrollHeight;
    return d;
  }
  if (body.dataset.opening) add('bot', body.dataset.opening);

  function sources(el, cites) {
    var used = cites.filter(function (c) { return c.used; });
    if (!used.length) return;
    var s = document.createElement('div');
    s.className = 'src';
    s.textContent = used.map(function (c) {
      var name = c.source.split(/[\\/]/).pop();
      return '[' + c.n + '] ' + name + (c.page ? ' p.' + c.page : '');
    }).join('  ');
    el.appendChild(s);
  }

  function followups(list) {
    var box = document.getElementById('starters');
    box.textContent = '';
    (list || []).forEach(function (f) {
      var b = document.createElement('button');
      b.type = 'button';
      b.className = 'chip';
      b.textContent = f;
      box.appendChild(b);
    });
  }

  var ICONS = {
    '1': 'M7 10v11H3V10h4zm2 11h8.2a2 2 0 0 0 2-1.6l1.3-6.5A2 2 0 0 0 18.5 10H14l.9-4.3a1.6 1.6 0 0 0-3-1L9 10v11z',
    '-1': 'M17 14V3h4v11h-4zm-2-11H6.8a2 2 0 0 0-2 1.6l-1.3 6.5A2 2 0 0 0 5.5 14H10l-.9 4.3a1.6 1.6 0 0 0 3 1L15 14V3z'
  };
  function icon(rating) {
    var ns = 'http://www.w3.org/2000/svg';
    var svg = document.createElementNS(ns, 'svg');
    svg.setAttribute('viewBox', '0 0 24 24');
    svg.setAttribute('width', '16');
    svg.setAttribute('height', '16');
    svg.setAttribute('aria-hidden', 'true');
    var p = document.createElementNS(ns, 'path');
    p.setAttribute('d', ICONS[rating]);
    p.setAttribute('fill', 'currentColor');
    svg.appendChild(p);
    return svg;
  }

  // feedbackBar puts thumbs under a finished answer: one vote per answer,
  // changeable, the same thumb again takes it back (rating 0); a comment
  // box opens after a thumbs down or on demand. The bar's classes and
  // attributes are a contract with the end-to-end tests.
  function feedbackBar(el, conv, message) {
    var state = { rating: 0, comment: '' };
    var bar = document.createElement('div');
    bar.className = 'fb';
    bar.setAttribute('role', 'group');
    bar.setAttribute('aria-label', T.up + ' / ' + T.down);
    var buttons = {};
    [['1', T.up], ['-1', T.down]].forEach(function (b) {
      var btn = document.createElement('button');
      btn.type = 'button';
      btn.dataset.rating = b[0];
      btn.setAttribute('aria-pressed', 'false');
      btn.setAttribute('aria-label', b[1]);
      btn.title = b[1];
      btn.appendChild(icon(b[0]));
      buttons[b[0]] = btn;
      bar.appendChild(btn);
    });
    var more = document.createElement('button');
    more.type = 'button';
    more.className = 'fb-more';
    more.textContent = T.comment;
    bar.appendChild(more);
    var status = document.createElement('span');
    status.className = 'fb-status';
    status.setAttribute('role', 'status');
    bar.appendChild(status);
    var box = null;
    var text = null;
    var send = null;

    function openBox() {
      if (!box) {
        box = document.createElement('div');
        box.className = 'fb-box';
        text = document.createElement('textarea');
        text.className = 'fb-comment';
        text.rows = 2;
        text.maxLength = 2000;
        send = document.createElement('button');
        send.type = 'button';
        send.className = 'fb-send';
        send.textContent = T.send;
        send.addEventListener('click', function () {
          post(state.rating, text.value.trim());
        });
        box.appendChild(text);
        box.appendChild(send);
        bar.insertBefore(box, status);
      }
      var hint = state.rating === 1 ? T.placeholderUp : T.placeholderDown;
      text.placeholder = hint;
      text.setAttribute('aria-label', hint);
      more.hidden = true;
      text.focus();
    }

    function show() {
      Object.keys(buttons).forEach(function (k) {
        buttons[k].setAttribute('aria-pressed', String(state.rating === Number(k)));
      });
    }

    var pending = false;
    async function post(rating, comment) {
      if (pending) return;
      pending = true;
      bar.classList.remove('fb-saved', 'fb-error');
      status.textContent = '';
      bar.setAttribute('aria-busy', 'true');
      try {
        var res = await fetch('/api/feedback?agent=' + encodeURIComponent(agent), {
          method: 'POST',
          headers: headers(),
          body: JSON.stringify({ conversation: conv, message: message, rating: rating, comment: comment })
        });
        var out = await res.json().catch(function () { return {}; });
        if (!res.ok) throw new Error((out.error && out.error.message) || res.statusText || T.retry);
        state.rating = out.rating;
        state.comment = out.comment || '';
        show();
        bar.classList.add('fb-saved');
        status.textContent = T.thanks;
        if (state.rating === -1) openBox();
      } catch (err) {
        bar.classList.add('fb-error');
        // A network failure has no useful message of its own.
        var why = err instanceof TypeError ? T.retry : String(err.message || err);
        status.textContent = T.failed + why;
      } finally {
        pending = false;
        bar.removeAttribute('aria-busy');
      }
    }

    bar.addEventListener('click', function (e) {
      var btn = e.target.closest('button[data-rating]');
      if (btn) {
        var r = Number(btn.dataset.rating);
        // The same thumb again takes the vote back, and its comment with it.
        if (r === state.rating) post(0, '');
        else post(r, state.comment);
      }
    });
    more.addEventListener('click', openBox);
    el.appendChild(bar);
  }

  async function ask(text) {
    if (busy || !text.trim()) return;
    busy = true;
    add('user', text);
    var bot = add('bot', '…');
    var answer = '';
    try {
      var res = await fetch('/v1/chat/completions', {
        method: 'POST',
        headers: headers(),
        body: JSON.stringify({ model: agent, stream: true, conversation: conversation, messages: [{ role: 'user', content: text }] })
      });
      if (!res.ok) {
        var e = await res.json().catch(function () { return {}; });
        throw new Error((e.error && e.error.message) || res.statusText);
      }
      var reader = res.body.getReader();
      var dec = new TextDecoder();
      var buf = '';
      for (;;) {
        var r = await reader.read();
        if (r.done) break;
        buf += dec.decode(r.value, { stream: true });
        var parts = buf.split('\n\n');
        buf = parts.pop();
        parts.forEach(function (p) {
          var line = p.replace(/^data: /, '');
          if (!line || line === '[DONE]') return;
          var m = JSON.parse(line);
          if (m.error) throw new Error(m.error.message);
          var delta = m.choices && m.choices[0] && m.choices[0].delta;
          if (delta && delta.content) {
            answer += delta.content;
            bot.textContent = answer;
          }
          if (m.atoll) {
            conversation = m.atoll.conversation || conversation;
            sources(bot, m.atoll.citations || []);
            followups(m.atoll.followups);
            if (m.atoll.message) feedbackBar(bot, conversation, m.atoll.message);
          }
        });
        log.scrollTop = log.scrollHeight;
      }
    } catch (err) {
      bot.textContent = answer;
      var p = document.createElement('div');
      p.className = 'err';
      p.textContent = String(err.message || err);
      bot.appendChild(p);
    } finally {
      busy = false;
    }
  }

  form.addEventListener('submit', function (e) {
    e.preventDefault();
    var t = q.value;
    q.value = '';
    ask(t);
  });
  q.addEventListener('keydown', function (e) {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      form.requestSubmit();
    }
  });
  document.getElementById('starters').addEventListener('click', function (e) {
    if (e.target.classList.contains('chip')) ask(e.target.textContent);
  });
})();
