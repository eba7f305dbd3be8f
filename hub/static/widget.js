// Atoll widget: <script src="https://HUB/widget.js" data-agent="NAME" async></script>
// adds a chat button to any page; the chat itself runs in a frame served by
// the hub, so the host page's scripts and styles never touch it.
(function () {
  'use strict';
  var me = document.currentScript;
  if (!me) return;
  var agent = me.getAttribute('data-agent');
  var origin = new URL(me.src).origin;
  var open = false;
  var btn = document.createElement('button');
  btn.type = 'button';
  btn.setAttribute('aria-label', 'Chat');
  btn.setAttribute('data-atoll-widget', agent);
  // An inline icon: an emoji may be missing from the visitor's fonts.
  var svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('width', '26');
  svg.setAttribute('height', '26');
  var path = document.createElementNS('http://www.w3.org/2000/svg', 'path');
  path.setAttribute('d', 'M5 5h14a1 1 0 0 1 1 1v10a1 1 0 0 1-1 1H10l-4 3v-3H5a1 1 0 0 1-1-1V6a1 1 0 0 1 1-1z');
  path.setAttribute('fill', 'none');
  path.setAttribute('stroke', 'currentColor');
  path.setAttribute('stroke-width', '1.8');
  path.setAttribute('stroke-linejoin', 'round');
  svg.appendChild(path);
  btn.appendChild(svg);
  btn.style.cssText = 'position:fixed;right:20px;bottom:20px;width:56px;height:56px;border-radius:28px;border:0;background:#0e7490;color:#fff;cursor:pointer;display:flex;align-items:center;justify-content:center;box-shadow:0 4px 14px rgba(0,0,0,.25);z-index:2147483646';
  var frame = document.createElement('iframe');
  frame.title = agent;
  frame.src = origin + '/a/' + encodeURIComponent(agent);
  frame.style.cssText = 'position:fixed;right:20px;bottom:88px;width:370px;height:560px;max-height:calc(100vh - 110px);border:1px solid #dde3e8;border-radius:12px;box-shadow:0 8px 30px rgba(0,0,0,.25);display:none;z-index:2147483647;background:#fff';
  btn.addEventListener('click', function () {
    open = !open;
    frame.style.display = open ? 'block' : 'none';
  });
  function mount() {
    document.body.appendChild(frame);
    document.body.appendChild(btn);
  }
  if (document.body) mount();
  else document.addEventListener('DOMContentLoaded', mount);
})();
