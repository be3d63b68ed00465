/**
 * The log viewer's webview document (no vscode import, so that it can be tested in a browser):
 * toolbar, status line, lines. Its script builds every log line with text nodes only, applies the
 * include/exclude filter to every line (later ones too), trims to MAX_LINES, keeps the view at the
 * bottom while following unless the user scrolled up. Messages: see ToWebview / FromWebview.
 * CSP: no sources but the nonce (script and style) and the webview's own resource origin (style).
 */
import type { StreamFilter } from '../core/runtime/logs';

/** Lines kept by the panel (in the webview and in the extension host for "Open as Text"). */
export const MAX_LINES = 50_000;

/** What the toolbar controls; kept per panel. */
export interface LogViewSettings {
  follow: boolean;
  /** 0 = all (up to MAX_LINES) */
  tail: number;
  /** '' = all; a duration (5m) or an RFC3339 time */
  since: string;
  timestamps: boolean;
  stream: StreamFilter;
}

export type StatusKind = 'loading' | 'following' | 'done' | 'empty' | 'waiting' | 'stopped' | 'nolog' | 'error' | 'closed';

/** A line as the webview gets it (short keys: many of them cross the message channel). */
export interface WireLine {
  t: string;
  /** stderr */
  e?: 1;
  m: string;
  /** incomplete */
  p?: 1;
  /** truncated */
  x?: 1;
}

export type ToWebview =
  | { type: 'init'; settings: LogViewSettings; canFollow: boolean; title: string; subtitle: string; strings: Record<string, string> }
  | { type: 'reset' }
  | { type: 'lines'; lines: WireLine[] }
  | { type: 'status'; kind: StatusKind; text: string; canFollow: boolean };
export type FromWebview =
  | { type: 'ready' }
  | { type: 'settings'; settings: LogViewSettings }
  | { type: 'filter'; include: string; exclude: string }
  | { type: 'openText' }
  | { type: 'reload' };

/** The webview document: a toolbar, a status line and the lines; no remote or local resources. */
export function logViewHtml(nonce: string, cspSource: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src ${cspSource} 'nonce-${nonce}'; script-src 'nonce-${nonce}';">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<style nonce="${nonce}">${STYLE}</style>
</head>
<body>
<header id="bar">
  <div id="title"><strong id="name"></strong> <span id="sub"></span></div>
  <div id="controls">
    <label><input type="checkbox" id="follow"> <span data-s="follow"></span></label>
    <label><span data-s="tail"></span> <select id="tail"><option value="100">100</option><option value="500">500</option><option value="1000">1000</option><option value="5000">5000</option><option value="0" data-s="all"></option></select></label>
    <label><span data-s="since"></span> <select id="since"><option value="" data-s="sinceAll"></option><option value="1m">1m</option><option value="5m">5m</option><option value="15m">15m</option><option value="1h">1h</option><option value="6h">6h</option><option value="24h">24h</option><option value="7d">7d</option><option value="custom" data-s="sinceCustom"></option></select></label>
    <input type="text" id="sinceCustom" hidden size="22">
    <label><input type="checkbox" id="timestamps"> <span data-s="timestamps"></span></label>
    <label><span data-s="stream"></span> <select id="stream"><option value="both" data-s="both"></option><option value="stdout">stdout</option><option value="stderr">stderr</option></select></label>
    <label><span data-s="include"></span> <input type="text" id="include" size="16"></label>
    <label><span data-s="exclude"></span> <input type="text" id="exclude" size="16"></label>
    <button id="clear" data-s="clear"></button>
    <button id="openText" data-s="openText"></button>
    <button id="reload" data-s="reload"></button>
  </div>
  <div id="status" role="status" aria-live="polite"></div>
</header>
<main id="log" tabindex="0" aria-label="log"></main>
<button id="newLines" hidden data-s="newLines"></button>
<script nonce="${nonce}">${SCRIPT}</script>
</body>
</html>`;
}

const STYLE = `
html, body { height: 100%; margin: 0; padding: 0; }
body { display: flex; flex-direction: column; color: var(--vscode-foreground); background: var(--vscode-editor-background); font-family: var(--vscode-font-family); font-size: var(--vscode-font-size); }
#bar { flex: none; padding: 6px 10px; border-bottom: 1px solid var(--vscode-panel-border, transparent); }
#title { margin-bottom: 4px; }
#sub { opacity: .7; }
#controls { display: flex; flex-wrap: wrap; gap: 6px 14px; align-items: center; }
#controls label { display: inline-flex; gap: 4px; align-items: center; white-space: nowrap; }
input[type=text], select { background: var(--vscode-input-background); color: var(--vscode-input-foreground); border: 1px solid var(--vscode-input-border, transparent); padding: 2px 4px; font: inherit; }
select { background: var(--vscode-dropdown-background); color: var(--vscode-dropdown-foreground); border-color: var(--vscode-dropdown-border, transparent); }
input.invalid { border-color: var(--vscode-inputValidation-errorBorder, red); }
button { background: var(--vscode-button-secondaryBackground, var(--vscode-button-background)); color: var(--vscode-button-secondaryForeground, var(--vscode-button-foreground)); border: none; padding: 3px 10px; font: inherit; cursor: pointer; }
button:hover { background: var(--vscode-button-secondaryHoverBackground, var(--vscode-button-hoverBackground)); }
#status { margin-top: 4px; min-height: 1.3em; opacity: .85; }
#status.error, #status.closed { color: var(--vscode-errorForeground); opacity: 1; }
#status.stopped, #status.nolog { color: var(--vscode-editorWarning-foreground, var(--vscode-foreground)); opacity: 1; }
#log { flex: 1; overflow: auto; padding: 4px 10px; font-family: var(--vscode-editor-font-family); font-size: var(--vscode-editor-font-size); white-space: pre-wrap; overflow-wrap: anywhere; outline: none; }
#log .l { min-height: 1.2em; }
#log .l[hidden] { display: none; }
#log .t { display: none; color: var(--vscode-descriptionForeground); margin-right: 1ch; user-select: none; }
#log.ts .t { display: inline; }
#log .e { color: var(--vscode-errorForeground); }
#log .note { color: var(--vscode-descriptionForeground); font-style: italic; margin-left: 1ch; user-select: none; }
#log .empty { color: var(--vscode-descriptionForeground); font-family: var(--vscode-font-family); padding: 20px 0; white-space: normal; }
#newLines { position: fixed; right: 20px; bottom: 16px; background: var(--vscode-button-background); color: var(--vscode-button-foreground); }
`;

/* The webview's script: plain ES2020, no template literals (it lives in one). */
const SCRIPT = String.raw`
(function () {
  'use strict';
  var vscode = acquireVsCodeApi();
  var MAX = ${MAX_LINES};
  var $ = function (id) { return document.getElementById(id); };
  var log = $('log'), status = $('status'), newLines = $('newLines');
  var S = {};
  var settings = null;
  var include = null, exclude = null;
  var total = 0, shown = 0;
  var stick = true;

  function matcher(spec) {
    var t = (spec || '').trim();
    if (!t) return null;
    var m = /^\/(.+)\/([a-z]*)$/.exec(t);
    if (m) {
      try { var rx = new RegExp(m[1], m[2].replace(/[gy]/g, '')); return function (s) { return rx.test(s); }; } catch (e) { /* plain text */ }
    }
    var needle = t.toLowerCase();
    return function (s) { return s.toLowerCase().indexOf(needle) >= 0; };
  }
  function keep(msg) { return (!include || include(msg)) && !(exclude && exclude(msg)); }

  function lineNode(l) {
    var d = document.createElement('div');
    d.className = l.e ? 'l e' : 'l';
    var t = document.createElement('span');
    t.className = 't';
    t.textContent = l.t;
    d.appendChild(t);
    d.appendChild(document.createTextNode(l.m));
    if (l.p || l.x) {
      var n = document.createElement('span');
      n.className = 'note';
      n.textContent = l.x ? S.truncated : S.incomplete;
      d.appendChild(n);
    }
    d._m = l.m;
    if (!keep(l.m)) d.hidden = true; else shown++;
    return d;
  }

  function atBottom() { return log.scrollHeight - log.scrollTop - log.clientHeight < 30; }
  log.addEventListener('scroll', function () { stick = atBottom(); if (stick) newLines.hidden = true; });
  newLines.addEventListener('click', function () { log.scrollTop = log.scrollHeight; stick = true; newLines.hidden = true; });

  function clearEmpty() { var e = log.querySelector('.empty'); if (e) e.remove(); }

  function addLines(lines) {
    clearEmpty();
    var frag = document.createDocumentFragment();
    for (var i = 0; i < lines.length; i++) frag.appendChild(lineNode(lines[i]));
    var wasBottom = stick;
    log.appendChild(frag);
    total += lines.length;
    while (total > MAX) {
      var first = log.firstElementChild;
      if (!first) break;
      if (!first.hidden) shown--;
      first.remove();
      total--;
    }
    if (wasBottom) log.scrollTop = log.scrollHeight;
    else if (settings && settings.follow) newLines.hidden = false;
    countText();
  }

  function refilter() {
    shown = 0;
    for (var n = log.firstElementChild; n; n = n.nextElementSibling) {
      if (n._m === undefined) continue;
      var k = keep(n._m);
      n.hidden = !k;
      if (k) shown++;
    }
    countText();
  }

  var baseStatus = { kind: '', text: '' };
  function countText() {
    var extra = (include || exclude) && total ? ' \u00b7 ' + S.hidden.replace('{0}', String(shown)).replace('{1}', String(total)) : '';
    status.textContent = baseStatus.text + extra;
    status.className = baseStatus.kind;
  }

  function emptyNote(text) {
    clearEmpty();
    if (total) return;
    var e = document.createElement('div');
    e.className = 'empty';
    e.textContent = text;
    log.appendChild(e);
  }

  var lastSent = '';
  function sendSettings() {
    var j = JSON.stringify(settings);
    if (j === lastSent) return;
    lastSent = j;
    vscode.postMessage({ type: 'settings', settings: settings });
  }
  function sendFilter() { vscode.postMessage({ type: 'filter', include: $('include').value, exclude: $('exclude').value }); }

  function applySettings() {
    $('follow').checked = settings.follow;
    $('tail').value = String(settings.tail);
    if ($('tail').value !== String(settings.tail)) {
      var o = document.createElement('option'); o.value = String(settings.tail); o.textContent = String(settings.tail); $('tail').appendChild(o); $('tail').value = String(settings.tail);
    }
    var presets = ['', '1m', '5m', '15m', '1h', '6h', '24h', '7d'];
    if (presets.indexOf(settings.since) >= 0) { $('since').value = settings.since; $('sinceCustom').hidden = true; }
    else { $('since').value = 'custom'; $('sinceCustom').hidden = false; $('sinceCustom').value = settings.since; }
    $('timestamps').checked = settings.timestamps;
    log.classList.toggle('ts', settings.timestamps);
    $('stream').value = settings.stream;
  }

  $('follow').addEventListener('change', function () { settings.follow = this.checked; sendSettings(); });
  $('tail').addEventListener('change', function () { settings.tail = Number(this.value); sendSettings(); });
  $('since').addEventListener('change', function () {
    if (this.value === 'custom') { $('sinceCustom').hidden = false; $('sinceCustom').focus(); return; }
    $('sinceCustom').hidden = true;
    settings.since = this.value; sendSettings();
  });
  // Enter and leaving the field both fire 'change'
  $('sinceCustom').addEventListener('change', function () { settings.since = this.value.trim(); sendSettings(); });
  $('timestamps').addEventListener('change', function () { settings.timestamps = this.checked; log.classList.toggle('ts', settings.timestamps); sendSettings(); });
  $('stream').addEventListener('change', function () { settings.stream = this.value; sendSettings(); });
  var filterTimer = null;
  function onFilter() {
    clearTimeout(filterTimer);
    filterTimer = setTimeout(function () {
      include = matcher($('include').value);
      exclude = matcher($('exclude').value);
      refilter();
      sendFilter();
      vscode.setState({ include: $('include').value, exclude: $('exclude').value });
    }, 120);
  }
  $('include').addEventListener('input', onFilter);
  $('exclude').addEventListener('input', onFilter);
  $('clear').addEventListener('click', function () { log.textContent = ''; total = 0; shown = 0; countText(); });
  $('openText').addEventListener('click', function () { vscode.postMessage({ type: 'openText' }); });
  $('reload').addEventListener('click', function () { vscode.postMessage({ type: 'reload' }); });

  window.addEventListener('message', function (ev) {
    var m = ev.data;
    if (!m || typeof m.type !== 'string') return;
    if (m.type === 'init') {
      S = m.strings || {};
      var nodes = document.querySelectorAll('[data-s]');
      for (var i = 0; i < nodes.length; i++) { var k = nodes[i].getAttribute('data-s'); if (S[k] !== undefined) nodes[i].textContent = S[k]; }
      $('include').placeholder = S.filterPlaceholder || '';
      $('exclude').placeholder = S.filterPlaceholder || '';
      $('sinceCustom').placeholder = S.sinceCustomPlaceholder || '';
      $('name').textContent = m.title;
      $('sub').textContent = m.subtitle;
      settings = m.settings;
      lastSent = JSON.stringify(settings);
      applySettings();
      $('follow').disabled = !m.canFollow;
      if (!m.canFollow) $('follow').title = S.noFollow || '';
      var st = vscode.getState();
      if (st) { $('include').value = st.include || ''; $('exclude').value = st.exclude || ''; include = matcher(st.include); exclude = matcher(st.exclude); sendFilter(); }
    } else if (m.type === 'reset') {
      log.textContent = ''; total = 0; shown = 0; stick = true; newLines.hidden = true;
    } else if (m.type === 'lines') {
      addLines(m.lines || []);
    } else if (m.type === 'status') {
      baseStatus = { kind: m.kind, text: m.text };
      $('follow').disabled = !m.canFollow;
      $('follow').checked = !!(settings && settings.follow && m.canFollow);
      $('sinceCustom').classList.toggle('invalid', m.kind === 'error' && $('since').value === 'custom');
      countText();
      if (m.kind === 'empty' || m.kind === 'waiting' || m.kind === 'nolog' || m.kind === 'stopped' || m.kind === 'error' || m.kind === 'closed') emptyNote(m.text);
      else clearEmpty();
    }
  });
  vscode.postMessage({ type: 'ready' });
})();
`;
