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

  async function ask(text) {
    if (busy || !text.trim()) return;
    busy = true;
    add('user', text);
    var bot = add('bot', '…');
    var answer = '';
    try {
      var res = await fetch('/v1/chat/completions', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
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
