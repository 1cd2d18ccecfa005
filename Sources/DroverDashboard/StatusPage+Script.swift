extension StatusPage {
    static let script = #"""
        'use strict';
        const WINDOW = 60;          // seconds of task stream shown
        const KEEP = 300;           // seconds of task stream kept
        const PALETTE = ['#4e79a7', '#f28e2b', '#59a14f', '#b07aa1', '#edc948', '#76b7b2', '#ff9da7', '#9c755f',
          '#8cd17d', '#d37295', '#a0cbe8', '#bab0ac'];
        const $ = (id) => document.getElementById(id);
        const stream = new Map();   // sequence → execution
        let latest = null;

        function el(tag, props, ...children) {
          const node = document.createElement(tag);
          for (const [key, value] of Object.entries(props || {})) {
            if (key === 'class') node.className = value;
            else if (key === 'style') node.style.cssText = value;
            else node.setAttribute(key, value);
          }
          for (const child of children.flat()) {
            if (child === null || child === undefined || child === false) continue;
            node.append(child instanceof Node ? child : String(child));
          }
          return node;
        }
        function escapeText(text) {
          return String(text).replace(/[&<>"']/g, (c) => '&#' + c.charCodeAt(0) + ';');
        }
        function bytes(n) {
          const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
          let value = Math.max(0, n || 0);
          let unit = 0;
          while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit++; }
          if (unit === 0) return Math.round(value) + ' B';
          return (value < 10 ? value.toFixed(1) : Math.round(value)) + ' ' + units[unit];
        }
        function seconds(s) {
          if (s < 1) return Math.round(s * 1000) + ' ms';
          return (s < 10 ? s.toFixed(2) : s.toFixed(1)) + ' s';
        }
        // A function's colour comes from a hash of its name (the same on every load); two functions
        // that hash alike take the next free colour, in an order that depends only on their names.
        const colours = new Map();
        function hashOf(name) {
          let hash = 0x811c9dc5;
          for (let i = 0; i < name.length; i++) hash = Math.imul(hash ^ name.charCodeAt(i), 0x01000193) >>> 0;
          return hash;
        }
        function assignColours(names) {
          const sorted = [...new Set(names)].sort((a, b) => (hashOf(a) % PALETTE.length) - (hashOf(b) % PALETTE.length)
            || a.localeCompare(b));
          const used = new Set();
          colours.clear();
          for (const name of sorted) {
            let index = hashOf(name) % PALETTE.length;
            for (let k = 0; k < PALETTE.length && used.has(index); k++) index = (index + 1) % PALETTE.length;
            used.add(index);
            colours.set(name, PALETTE[index]);
          }
        }
        function colour(name) {
          return colours.get(name) || PALETTE[hashOf(name) % PALETTE.length];
        }
        function clock(time) {
          return new Date(time * 1000).toLocaleTimeString([], { hour12: false });
        }
        function pct(part, whole) { return whole > 0 ? Math.min(100, 100 * part / whole) : 0; }

        // MARK: summary

        function renderSummary(s) {
          const t = s.totals;
          const memory = t.memoryLimit > 0 ? bytes(t.memoryBytes) + ' / ' + bytes(t.memoryLimit) : bytes(t.memoryBytes);
          const states = t.tasksByState;
          const items = [
            ['Workers', t.workers], ['Threads', t.threads], ['Running', t.executing],
            ['Tasks', t.tasks], ['Processing', states['processing'] || 0], ['In memory', states['memory'] || 0],
            ['Erred', states['erred'] || 0], ['Clients', t.clients], ['Memory', memory], ['Restarts', t.restarts],
          ];
          $('summary').replaceChildren(...items.map(([k, v]) => el('div', {}, el('dt', {}, k), el('dd', {}, v))));
        }

        // MARK: workers

        function memoryCell(w) {
          const scale = w.memoryLimit > 0 ? w.memoryLimit
            : Math.max(1, ...latest.workers.map((x) => x.memoryBytes + x.spilledBytes));
          const bar = el('div', { class: 'bar', title: 'managed ' + bytes(w.managedBytes) + ', unmanaged '
              + bytes(w.unmanagedBytes) + ', spilled ' + bytes(w.spilledBytes) },
            el('span', { class: 'managed', style: 'width:' + pct(w.managedBytes, scale) + '%' }),
            el('span', { class: 'unmanaged', style: 'width:' + pct(w.unmanagedBytes, scale) + '%' }),
            el('span', { class: 'spilled', style: 'width:' + pct(w.spilledBytes, scale) + '%' }));
          if (w.memoryLimit > 0) bar.append(el('span', { class: 'target', style: 'left:60%' }));
          const used = w.memoryLimit > 0 ? bytes(w.memoryBytes) + ' / ' + bytes(w.memoryLimit)
            : bytes(w.memoryBytes) + ' (no limit)';
          const detail = 'managed ' + bytes(w.managedBytes) + (w.spilledBytes > 0 ? ' · spilled ' + bytes(w.spilledBytes) : '');
          return el('div', { class: 'memory' }, bar, el('div', { class: 'memory-text' }, used, el('small', {}, detail)));
        }
        function renderWorkers(s) {
          $('workers-count').textContent = s.workers.length ? s.workers.length + ' connected' : '';
          $('workers-empty').hidden = s.workers.length > 0;
          $('workers').replaceChildren(...s.workers.map((w) => {
            const status = w.isRetiring ? 'retiring' : w.status;
            const restarts = el('td', {},
              el('span', { class: 'restarts' + (w.restarts > 0 ? ' some' : '') }, w.restarts),
              w.lastExitCause ? el('span', { class: 'cause', title: w.lastExitCause }, w.lastExitCause) : null);
            return el('tr', {},
              el('td', { class: 'name' }, w.id),
              el('td', { class: 'mono' }, w.address),
              el('td', { class: 'num' }, w.threads),
              el('td', { class: 'num', title: w.executing + ' running, ' + w.processing + ' assigned' },
                w.executing + ' / ' + w.processing),
              el('td', { class: 'num' }, w.held),
              el('td', {}, memoryCell(w)),
              el('td', { class: 'num', title: w.transfers.incomingCount + ' fetches, '
                  + seconds(w.transfers.incomingSeconds) + ' fetching' },
                bytes(w.transfers.incomingBytes) + ' / ' + bytes(w.transfers.outgoingBytes)),
              el('td', {}, el('span', { class: 'badge ' + w.status }, status)),
              restarts);
          }));
        }

        // MARK: progress

        function renderProgress(s) {
          const fns = s.functions;
          $('progress-empty').hidden = fns.length > 0;
          const total = fns.reduce((n, f) => n + f.total, 0);
          const done = fns.reduce((n, f) => n + f.done, 0);
          $('progress-count').textContent = fns.length ? done + ' of ' + total + ' tasks done' : '';
          $('progress').replaceChildren(...fns.map((f) => {
            const c = colour(f.function);
            const part = (n, style) => el('span', { style: 'width:' + pct(n, f.total) + '%;' + style });
            const details = [];
            if (f.processing) details.push(f.processing + ' processing');
            if (f.waiting) details.push(f.waiting + ' waiting');
            if (f.memory) details.push(f.memory + ' in memory');
            if (f.released) details.push(f.released + ' released');
            if (f.erred) details.push(f.erred + ' erred');
            return el('div', { class: 'progress-row' },
              el('div', { class: 'fn', title: f.function }, el('span', { class: 'swatch', style: 'background:' + c }),
                f.function),
              el('div', { class: 'pbar', title: details.join(', ') },
                part(f.memory, 'background:' + c),
                part(f.released, 'background:' + c + ';opacity:.45'),
                el('span', { class: 'erred', style: 'width:' + pct(f.erred, f.total) + '%' }),
                part(f.processing, 'background:repeating-linear-gradient(45deg,' + c + ' 0 4px,transparent 4px 8px)')),
              el('div', { class: 'ratio' }, f.done + '/' + f.total),
              el('div', { class: 'detail' }, details.join(' · ')));
          }));
        }

        // MARK: events

        const KIND_TEXT = { 'oom-killed': 'OOM-killed', 'task-erred': 'task erred' };
        function renderEvents(s) {
          const events = s.events.slice(-80).reverse();
          $('events-empty').hidden = events.length > 0;
          $('events').replaceChildren(...events.map((e) => {
            const what = e.worker && e.detail ? e.worker + ': ' + e.detail : e.worker || e.detail;
            return el('li', {}, el('time', {}, clock(e.time)),
              el('span', { class: 'kind ' + e.kind }, KIND_TEXT[e.kind] || e.kind),
              el('span', { class: 'what', title: what }, what));
          }));
        }

        // MARK: task stream

        function renderStream(s) {
          const svg = $('stream');
          for (const [sequence, x] of stream) if (x.stop < s.time - KEEP) stream.delete(sequence);
          const width = Math.max(400, svg.clientWidth || 1000);
          const left = 130, right = 8, top = 20, laneHeight = 11, gap = 8;
          const plot = width - left - right;
          const start = s.time - WINDOW;
          const x = (t) => left + plot * (Math.max(t, start) - start) / WINDOW;
          const rows = new Map(s.workers.map((w) => [w.id, { threads: w.threads, runs: [] }]));
          for (const run of stream.values()) {
            if (run.stop < start) continue;
            if (!rows.has(run.worker)) rows.set(run.worker, { threads: 1, runs: [] });
            rows.get(run.worker).runs.push(run);
          }
          const parts = [];
          let y = top;
          const functions = new Set();
          for (const [worker, row] of [...rows.entries()].sort((a, b) => a[0].localeCompare(b[0]))) {
            row.runs.sort((a, b) => a.start - b.start);
            // Runs go to the first free lane; report delays can make a run seem to start before
            // the previous one on its thread ended, so with every lane busy it takes the one freed first.
            const lanes = new Array(row.threads).fill(-Infinity);
            const placed = row.runs.map((run) => {
              let lane = lanes.findIndex((end) => end <= run.start);
              if (lane < 0) lane = lanes.indexOf(Math.min(...lanes));
              lanes[lane] = run.stop;
              return [lane, run];
            });
            const height = lanes.length * laneHeight;
            parts.push('<rect class="lane" x="' + left + '" y="' + y + '" width="' + plot + '" height="' + height + '"/>');
            parts.push('<text class="label" x="' + (left - 8) + '" y="' + (y + height / 2 + 4)
              + '" text-anchor="end">' + escapeText(worker) + '</text>');
            // Runs of one function that follow each other within a pixel on a lane are drawn as
            // one bar: thousands of millisecond tasks make a few elements, not thousands.
            const bars = [];
            const open = new Array(lanes.length).fill(null);
            for (const [lane, run] of placed) {
              functions.add(run.function);
              const x0 = x(run.start), x1 = Math.max(x0 + 1.5, x(run.stop));
              const bar = open[lane];
              if (bar && bar.function === run.function && x0 - bar.x1 < 1) {
                bar.x1 = Math.max(bar.x1, x1);
                bar.count += 1;
                bar.busy += run.stop - run.start;
                continue;
              }
              open[lane] = { lane, function: run.function, x0, x1, count: 1, busy: run.stop - run.start, run };
              bars.push(open[lane]);
            }
            for (const bar of bars) {
              const title = bar.count === 1
                ? bar.function + ' ' + bar.run.key + ' on ' + worker + ': ' + seconds(bar.busy)
                : bar.count + ' × ' + bar.function + ' on ' + worker + ': ' + seconds(bar.busy) + ' in all';
              parts.push('<rect x="' + bar.x0.toFixed(1) + '" y="' + (y + bar.lane * laneHeight + 1) + '" width="'
                + (bar.x1 - bar.x0).toFixed(1) + '" height="' + (laneHeight - 2) + '" rx="1.5" fill="'
                + colour(bar.function) + '"><title>' + escapeText(title) + '</title></rect>');
            }
            y += height + gap;
          }
          for (let ago = 0; ago <= WINDOW; ago += 10) {
            const tx = left + plot * (1 - ago / WINDOW);
            parts.unshift('<line class="grid" x1="' + tx + '" x2="' + tx + '" y1="' + (top - 4) + '" y2="' + y + '"/>'
              + '<text class="tick" x="' + tx + '" y="12" text-anchor="' + (ago === 0 ? 'end' : 'middle') + '">'
              + (ago === 0 ? 'now' : '−' + ago + ' s') + '</text>');
          }
          if (rows.size === 0) {
            parts.push('<text class="tick" x="' + left + '" y="' + (top + 12) + '">No workers.</text>');
            y += 20;
          }
          svg.setAttribute('height', y + 2);
          svg.innerHTML = parts.join('');
          $('stream-legend').replaceChildren(...[...functions].sort().map((f) =>
            el('span', {}, el('span', { class: 'swatch', style: 'background:' + colour(f) }), f)));
        }

        // MARK: updates

        function render(s) {
          latest = s;
          assignColours([...s.functions.map((f) => f.function), ...[...stream.values()].map((run) => run.function)]);
          renderSummary(s);
          renderWorkers(s);
          renderProgress(s);
          renderEvents(s);
          renderStream(s);
        }
        // The stream ends after each event and the browser reconnects (see the server): the page
        // is live while events keep coming, whatever the EventSource's state in between.
        let lastMessage = 0;
        let pending = false;
        function setLive(on) {
          $('live').className = 'live ' + (on ? 'on' : 'off');
          $('live-text').textContent = on ? 'live' : 'reconnecting…';
        }
        // With a bearer token (--dashboard-token), the page is opened as /status?token=…: the API
        // calls carry it on (EventSource cannot send an Authorization header).
        const token = new URLSearchParams(location.search).get('token');
        const withToken = (url) => token ? url + (url.includes('?') ? '&' : '?') + 'token=' + encodeURIComponent(token) : url;
        function connect() {
          const source = new EventSource(withToken('api/v1/stream?events=1'));
          source.addEventListener('snapshot', (event) => {
            const message = JSON.parse(event.data);
            if (message.reset) stream.clear();
            for (const run of message.taskStream) stream.set(run.sequence, run);
            // A page nobody sees keeps its data current and draws when shown again.
            if (document.hidden) { latest = message.snapshot; pending = true; } else render(message.snapshot);
            lastMessage = Date.now();
            setLive(true);
          });
        }
        setInterval(() => { if (Date.now() - lastMessage > 3000) setLive(false); }, 1000);
        fetch(withToken('api/v1/snapshot')).then((r) => r.json()).then((s) => {
          if (latest && latest.time >= s.time) return;
          for (const run of s.taskStream) stream.set(run.sequence, run);
          render(s);
        }).catch(() => setLive(false));
        connect();
        window.addEventListener('resize', () => { if (latest) renderStream(latest); });
        document.addEventListener('visibilitychange', () => {
          if (!document.hidden && pending && latest) { pending = false; render(latest); }
        });

        """#
}
