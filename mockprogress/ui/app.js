// The live view: reads the control API of the server that served it (same origin only) and
// shows the journal as it grows. Every text from the server goes into the page as text
// (textContent, SVG text nodes), never as markup: a request path may be anything a client sent.
'use strict';

(() => {
  const PREFIX = document.body.dataset.prefix;
  const JOURNAL_EVERY_MS = 300;
  const VIEWS_EVERY_MS = 1000;
  const SVG = 'http://www.w3.org/2000/svg';

  const $ = (id) => document.getElementById(id);

  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
    for (const child of children) node.append(child);
    return node;
  }

  function svg(tag, attrs = {}, text = null) {
    const node = document.createElementNS(SVG, tag);
    for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
    if (text !== null) node.textContent = text;
    return node;
  }

  async function api(path) {
    const response = await fetch(PREFIX + path, {
      credentials: 'same-origin',
      cache: 'no-store',
      // The terminal of `mockprogress serve` leaves these reads out unless they fail.
      headers: { Accept: 'application/json', 'X-Mockprogress-View': 'live' },
    });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(`${response.status}: ${body.error || response.statusText}`);
    return body;
  }

  function setStatus(text, error = false) {
    const status = $('status');
    status.textContent = text;
    status.classList.toggle('error', error);
  }

  // ---- the exchanges ------------------------------------------------------------------------

  /** index -> exchange (the journal's JSON, bodies left out) */
  const exchanges = new Map();
  /** index -> its <li> */
  const rows = new Map();
  let highest = 0;

  function since() {
    // From the oldest exchange still running: it changes until it ends.
    let from = highest;
    for (const ex of exchanges.values()) if (ex.duration === null) from = Math.min(from, ex.index - 1);
    return from;
  }

  function interimsText(ex) {
    const runs = [];
    for (const interim of ex.interims) {
      const last = runs[runs.length - 1];
      if (last && last.status === interim.status) last.count += 1;
      else runs.push({ status: interim.status, count: 1 });
    }
    return runs.map((r) => (r.count > 1 ? `${r.status} ×${r.count}` : `${r.status}`)).join(' ');
  }

  function faultOffset(fault) {
    if (fault.side === 'response') return `at body byte ${fault.body_bytes} (wire byte ${fault.wire_bytes})`;
    if (fault.side === 'request') return `after request body byte ${fault.body_bytes} (${fault.bytes_received} bytes read)`;
    return `in the TLS handshake after ${fault.wire_bytes} bytes written`;
  }

  function faultText(fault) {
    return fault ? `${fault.kind} ${faultOffset(fault)}` : '';
  }

  function durationText(ex) {
    if (ex.duration === null) return 'running';
    const ms = ex.duration * 1000;
    return ms < 1000 ? `${ms.toFixed(1)} ms` : `${(ms / 1000).toFixed(2)} s`;
  }

  function statusText(ex) {
    if (ex.response) return String(ex.response.status);
    return ex.duration === null ? '…' : 'none';
  }

  function summary(ex) {
    const status = ex.response ? `status status-${String(ex.response.status)[0]}` : 'status';
    const cells = [
      ['index', `#${ex.index}`],
      ['method', ex.method || '?'],
      ['path', ex.target || '(incomplete request)'],
      [status, statusText(ex)],
      ['interims', interimsText(ex)],
      ['fault', faultText(ex.fault)],
      ['duration', durationText(ex)],
      ['bytes', `${ex.bytes_received} B / ${ex.bytes_sent} B`],
    ];
    const node = el('summary');
    for (const [cls, text] of cells) {
      const cell = el('span', { class: cls });
      cell.textContent = text;
      cell.title = text;
      node.append(cell);
    }
    return node;
  }

  function detail(ex) {
    const box = el('div', { class: 'detail' });
    box.append(el('h3', {}, 'Timeline'), timeline(ex));
    if (ex.handled_by) box.append(el('p', { class: 'mono' }, `handled by ${ex.handled_by}`));
    return box;
  }

  function renderRow(ex) {
    let row = rows.get(ex.index);
    const open = row ? row.querySelector('details').open : false;
    const details = el('details', {}, summary(ex));
    details.open = open;
    details.addEventListener('toggle', () => {
      const old = details.querySelector('.detail');
      if (details.open && !old) details.append(detail(exchanges.get(ex.index)));
      if (!details.open && old) old.remove();
    });
    if (open) details.append(detail(ex));
    if (!row) {
      row = el('li', { class: 'exchange', 'data-index': ex.index });
      rows.set(ex.index, row);
      // Newest first: before the first row with a lower index.
      const list = $('exchanges');
      const next = [...list.children].find((li) => Number(li.dataset.index) < ex.index);
      list.insertBefore(row, next || null);
    }
    row.classList.toggle('running', ex.duration === null);
    row.replaceChildren(details);
    applyFilter(row, ex);
  }

  function statusMatches(ex, wanted) {
    if (!wanted.length) return true;
    const status = ex.response ? String(ex.response.status) : 'none';
    return wanted.some((w) =>
      /^[1-9]xx$/.test(w) ? status[0] === w[0] && status !== 'none' : status === w);
  }

  function matches(ex) {
    const path = $('filter-path').value.trim().toLowerCase();
    const wanted = $('filter-status').value.toLowerCase().split(/[\s,]+/).filter(Boolean);
    const fault = $('filter-fault').value;
    if (path && !(ex.target || '').toLowerCase().includes(path)) return false;
    if (!statusMatches(ex, wanted)) return false;
    if (fault === 'none') return ex.fault === null;
    if (fault === 'any') return ex.fault !== null;
    if (fault) return ex.fault !== null && ex.fault.kind === fault;
    return true;
  }

  function applyFilter(row, ex) {
    row.hidden = !matches(ex);
  }

  function refilter() {
    for (const [index, row] of rows) applyFilter(row, exchanges.get(index));
    const shown = [...rows.values()].filter((row) => !row.hidden).length;
    $('shown').textContent = `${shown} of ${rows.size} shown`;
    $('no-exchanges').hidden = rows.size > 0;
  }

  function forgetExchanges() {
    exchanges.clear();
    rows.clear();
    highest = 0;
    $('exchanges').replaceChildren();
  }

  async function pollJournal() {
    let doc = await api(`journal?bodies=none&since=${since()}`);
    if (doc.total < highest) {
      // The journal was cleared (a reset): start over.
      forgetExchanges();
      doc = await api('journal?bodies=none');
    }
    for (const ex of doc.exchanges) {
      const old = exchanges.get(ex.index);
      exchanges.set(ex.index, ex);
      highest = Math.max(highest, ex.index);
      if (!old || JSON.stringify(old) !== JSON.stringify(ex)) renderRow(ex);
    }
    refilter();
    setStatus(`live: ${exchanges.size} exchange${exchanges.size === 1 ? '' : 's'}`);
  }

  // ---- the timeline, as a sequence diagram ----------------------------------------------------

  const CLIENT_X = 170;
  const SERVER_X = 640;
  const WIDTH = 720;
  const ROW = 30;
  const TOP = 44;

  function label(event, ex) {
    if (event.kind === 'request') return ex.method ? `${ex.method} ${ex.target}` : '(incomplete request)';
    let text = event.detail;
    if (event.kind === 'interim' && event.headers) {
      text += '  ' + event.headers.map(([n, v]) => `${n}: ${v}`).join('; ');
    }
    return text;
  }

  function arrow(y, from, to, cls, text, kind) {
    const group = svg('g', { class: `event arrow ${cls} ev-${kind}`, 'data-kind': kind });
    const dir = to > from ? 1 : -1;
    group.append(svg('line', { x1: from, y1: y, x2: to - dir * 8, y2: y }));
    if (kind === 'fault') {
      // Mermaid's -x: the arrow ends in a cross.
      const x = to - dir * 8;
      group.append(svg('path', { d: `M${x - 6},${y - 6} L${x + 6},${y + 6} M${x - 6},${y + 6} L${x + 6},${y - 6}` }));
    } else {
      group.append(svg('polygon', { points: `${to},${y} ${to - dir * 9},${y - 4} ${to - dir * 9},${y + 4}` }));
    }
    const middle = (from + to) / 2;
    group.append(svg('text', { x: middle, y: y - 6, 'text-anchor': 'middle', class: 'label' }, clip(text)));
    group.append(svg('title', {}, text));
    return group;
  }

  function note(y, text, kind) {
    const group = svg('g', { class: `event note ev-${kind}`, 'data-kind': kind });
    const width = Math.min(360, 16 + 7.3 * Math.min(text.length, 48));
    group.append(svg('rect', { x: SERVER_X - width / 2, y: y - 14, width, height: 20, rx: 3 }));
    group.append(svg('text', { x: SERVER_X, y: y, 'text-anchor': 'middle', class: 'label' }, clip(text, 48)));
    group.append(svg('title', {}, text));
    return group;
  }

  function clip(text, most = 64) {
    return text.length > most ? text.slice(0, most - 1) + '…' : text;
  }

  function timeline(ex) {
    const events = ex.events;
    const faultRows = events.filter((e) => e.kind === 'fault').length;
    const height = TOP + ROW * (events.length + faultRows) + 16;
    const root = svg('svg', {
      class: 'timeline', viewBox: `0 0 ${WIDTH} ${height}`, width: WIDTH, height,
      role: 'img', 'aria-label': `timeline of exchange #${ex.index}`,
    });
    for (const [x, name] of [[CLIENT_X, 'client'], [SERVER_X, 'mockprogress']]) {
      const actor = svg('g', { class: 'actor' });
      actor.append(svg('rect', { x: x - 60, y: 6, width: 120, height: 22, rx: 4 }));
      actor.append(svg('text', { x, y: 21 }, name));
      root.append(actor, svg('line', { class: 'lifeline', x1: x, y1: 28, x2: x, y2: height - 6 }));
    }
    let y = TOP;
    for (const event of events) {
      y += ROW - 8;
      root.append(svg('text', { class: 'time', x: 4, y }, `${(event.at * 1000).toFixed(1)} ms`));
      const text = label(event, ex);
      if (event.kind === 'fault') {
        root.append(arrow(y, SERVER_X, CLIENT_X, 'out', text, 'fault'));
        if (ex.fault) {
          y += ROW;
          const offset = svg('text', {
            class: 'fault-offset', x: (CLIENT_X + SERVER_X) / 2, y: y - 10, 'text-anchor': 'middle',
            'data-body-bytes': ex.fault.body_bytes, 'data-wire-bytes': ex.fault.wire_bytes,
          }, `${ex.fault.kind} ${faultOffset(ex.fault)}`);
          root.lastChild.append(offset);
        }
      } else if (event.direction === 'in') {
        root.append(arrow(y, CLIENT_X, SERVER_X, 'in', text, event.kind));
      } else if (event.direction === 'out') {
        root.append(arrow(y, SERVER_X, CLIENT_X, 'out', text, event.kind));
      } else {
        root.append(note(y, text, event.kind));
      }
      y += 8;
    }
    return root;
  }

  // ---- the other views ------------------------------------------------------------------------

  function cellRow(...cells) {
    const tr = el('tr');
    for (const cell of cells) {
      const td = el('td');
      td.append(cell);
      tr.append(td);
    }
    return tr;
  }

  function code(text, cls = '') {
    const node = el('code', cls ? { class: cls } : {});
    node.textContent = text;
    return node;
  }

  async function showExpectations() {
    const doc = await api('expectations');
    $('expectations').replaceChildren(...doc.expectations.map((e) => cellRow(
      String(e.id),
      code(e.describe),
      `${e.calls}${e.times === null ? '' : ` of ${e.times}`}`,
      e.description || e.name || '',
    )));
  }

  function uploadLine(upload) {
    const line = el('div', { class: 'upload', 'data-upload': upload.id });
    const bar = el('progress');
    if (upload.length !== null) {
      bar.max = Math.max(upload.length, 1);
      bar.value = upload.offset;
    }
    const state = upload.complete ? 'complete' : upload.invalid ? 'refused' : 'in progress';
    const offset = el('span', { class: 'offset' });
    offset.textContent =
      `${upload.offset} of ${upload.length === null ? 'an unknown length' : `${upload.length} bytes`} (${state})`;
    line.append(code(upload.id), offset, bar);
    return line;
  }

  async function showResources() {
    const doc = await api('resources');
    $('resources').replaceChildren(...doc.resources.map((r) => {
      const box = el('div', { class: 'resource' });
      const title = el('h2');
      title.append(code(r.describe));
      box.append(title);
      if (r.description) box.append(el('p', {}, r.description));
      if (r.uploads) {
        if (!r.uploads.length) box.append(el('p', { class: 'empty' }, 'no upload yet'));
        box.append(...r.uploads.map(uploadLine));
      }
      return box;
    }));
  }

  async function showProblems() {
    const doc = await api('problems');
    $('problem-count').textContent = doc.problems.length ? `(${doc.problems.length})` : '';
    $('no-problems').hidden = doc.problems.length > 0;
    $('problems').replaceChildren(...doc.problems.map((p) => {
      const item = el('li');
      item.append(code(p.kind), ` ${p.message}`);
      return item;
    }));
    $('report').hidden = doc.report === null;
    $('report').textContent = doc.report || '';
  }

  async function showRoutes() {
    const doc = await api('routes');
    $('routes').replaceChildren(...doc.routes.map((r) => cellRow(
      code(r.route), r.description || '', r.curl ? code(r.curl, 'curl') : '',
    )));
  }

  const VIEWS = {
    exchanges: null,
    expectations: showExpectations,
    resources: showResources,
    problems: showProblems,
    routes: showRoutes,
  };
  let current = 'exchanges';

  function show(name) {
    current = name;
    for (const button of document.querySelectorAll('nav button')) {
      button.setAttribute('aria-pressed', String(button.dataset.view === name));
    }
    for (const view of Object.keys(VIEWS)) $(`view-${view}`).hidden = view !== name;
    refreshView().catch(failed);
  }

  async function refreshView() {
    await showProblems(); // its count shows in the navigation whatever the view
    const refresh = VIEWS[current];
    if (refresh && refresh !== showProblems) await refresh();
  }

  function failed(error) {
    setStatus(`cannot read the journal: ${error.message}`, true);
  }

  // ---- the loops --------------------------------------------------------------------------------

  function every(ms, work) {
    const run = async () => {
      try {
        await work();
      } catch (error) {
        failed(error);
      }
      setTimeout(run, ms);
    };
    run();
  }

  for (const button of document.querySelectorAll('nav button')) {
    button.addEventListener('click', () => show(button.dataset.view));
  }
  for (const id of ['filter-path', 'filter-status', 'filter-fault']) {
    $(id).addEventListener('input', refilter);
  }
  every(JOURNAL_EVERY_MS, pollJournal);
  every(VIEWS_EVERY_MS, refreshView);
})();
