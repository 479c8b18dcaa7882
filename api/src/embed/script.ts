/**
 * `/embed.js`: the script another site includes to embed a project's terminal. It defines
 * `<shellfolio-terminal project="<slug>">`, which creates an iframe on `/embed/<slug>` of the origin
 * the script came from, and sizes the iframe to the height the embed page posts (`postMessage`
 * `{ type: 'shellfolio:height', height }`, accepted only from that origin and that iframe). Plain
 * ES2017 (a class, no modules), no dependencies: it runs on pages we do not control (docs/api.md, "Embedding").
 */
export const EMBED_SCRIPT = `(function () {
  'use strict';
  var script = document.currentScript;
  var base = script && script.src ? new URL(script.src).origin : '';
  if (!base || !window.customElements || customElements.get('shellfolio-terminal')) return;
  var SLUG = /^[a-z0-9][a-z0-9-]{0,99}$/;
  var clamp = function (n, lo, hi) { return Math.min(Math.max(n, lo), hi); };
  class ShellfolioTerminal extends HTMLElement {
    static get observedAttributes() { return ['project']; }
    connectedCallback() { this.draw(); }
    attributeChangedCallback() { if (this.isConnected) this.draw(); }
    draw() {
      var project = (this.getAttribute('project') || '').trim();
      if (!SLUG.test(project)) {
        this.frame = undefined;
        this.textContent = 'shellfolio-terminal: the project attribute must be a project slug.';
        return;
      }
      if (this.frame && this.frame.dataset.project === project) return;
      var frame = document.createElement('iframe');
      frame.src = base + '/embed/' + project;
      frame.title = 'Live terminal: ' + project;
      frame.dataset.project = project;
      frame.setAttribute('allow', 'clipboard-read; clipboard-write; fullscreen');
      var height = clamp(parseInt(this.getAttribute('height') || '', 10) || 540, 200, 4000);
      frame.style.cssText = 'display:block;width:100%;border:0;height:' + height + 'px';
      this.frame = frame;
      this.replaceChildren(frame);
    }
  }
  window.addEventListener('message', function (event) {
    var data = event.data;
    if (event.origin !== base || !data || data.type !== 'shellfolio:height') return;
    var height = Number(data.height);
    if (!isFinite(height)) return;
    var all = document.querySelectorAll('shellfolio-terminal');
    for (var i = 0; i < all.length; i++) {
      var frame = all[i].frame;
      if (frame && frame.contentWindow === event.source) frame.style.height = clamp(Math.ceil(height), 200, 4000) + 'px';
    }
  });
  customElements.define('shellfolio-terminal', ShellfolioTerminal);
})();
`
