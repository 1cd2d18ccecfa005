extension StatusPage {
    static let style = #"""
        :root {
          --bg: #f4f5f7; --panel: #fff; --text: #1d2433; --muted: #667085; --line: #e3e6ec;
          --managed: #3867d6; --unmanaged: #a9bdf0; --spilled: #9aa3b2; --erred: #d63b2f;
          --waiting: #e7e9ee; --warn: #e08a00; --ok: #16a36b; --head: #151b2b;
        }
        * { box-sizing: border-box; }
        body {
          margin: 0; background: var(--bg); color: var(--text);
          font: 13px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
        }
        header {
          display: flex; align-items: center; gap: 28px; padding: 10px 20px;
          background: var(--head); color: #e9edf5;
        }
        .brand { font-weight: 700; font-size: 16px; letter-spacing: .2px; white-space: nowrap; }
        .brand span { font-weight: 400; color: #97a3bb; }
        .summary { display: flex; flex-wrap: wrap; gap: 22px; margin: 0; flex: 1; }
        .summary div { display: flex; flex-direction: column; }
        .summary dt { font-size: 11px; text-transform: uppercase; letter-spacing: .6px; color: #97a3bb; }
        .summary dd { margin: 0; font-size: 15px; font-weight: 600; font-variant-numeric: tabular-nums; }
        .live { display: flex; align-items: center; gap: 6px; color: #97a3bb; white-space: nowrap; }
        .live .dot { width: 8px; height: 8px; border-radius: 50%; background: #7a8396; }
        .live.on .dot { background: #2fd08a; box-shadow: 0 0 0 3px rgba(47, 208, 138, .2); }
        .live.off .dot { background: #f0564a; }
        main { padding: 16px 20px 28px; display: flex; flex-direction: column; gap: 16px; }
        .columns { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 16px; }
        @media (max-width: 1000px) { .columns { grid-template-columns: 1fr; } }
        .panel {
          background: var(--panel); border: 1px solid var(--line); border-radius: 8px;
          padding: 12px 16px 14px; min-width: 0;
        }
        h2 { font-size: 13px; margin: 0 0 10px; text-transform: uppercase; letter-spacing: .6px; color: #344054; }
        h2 .count { font-weight: 400; text-transform: none; letter-spacing: 0; color: var(--muted); margin-left: 6px; }
        .scroll { overflow-x: auto; }
        table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
        th {
          text-align: left; font-weight: 600; color: var(--muted); font-size: 11.5px;
          padding: 4px 10px 6px 0; border-bottom: 1px solid var(--line); white-space: nowrap;
        }
        td { padding: 6px 10px 6px 0; border-bottom: 1px solid #f0f1f4; vertical-align: middle; white-space: nowrap; }
        tr:last-child td { border-bottom: 0; }
        .num { text-align: right; }
        .name { font-weight: 600; }
        .mono { font-family: ui-monospace, "SF Mono", Menlo, Consolas, monospace; font-size: 12px; color: #475467; }
        .muted { color: var(--muted); }
        .legend { font-weight: 400; margin-left: 8px; }
        .legend i { display: inline-block; width: 9px; height: 9px; border-radius: 2px; margin: 0 3px 0 8px; }
        i.managed { background: var(--managed); } i.unmanaged { background: var(--unmanaged); }
        i.spilled { background: var(--spilled); }
        .memory { display: flex; align-items: center; gap: 10px; }
        .bar {
          position: relative; display: flex; width: 180px; height: 12px; border-radius: 3px;
          background: var(--waiting); overflow: hidden; flex: none;
        }
        .bar span { height: 100%; }
        .bar .managed { background: var(--managed); } .bar .unmanaged { background: var(--unmanaged); }
        .bar .spilled { background: repeating-linear-gradient(45deg, var(--spilled) 0 3px, #c4cad4 3px 6px); }
        .bar .target { position: absolute; top: 0; bottom: 0; width: 1px; background: rgba(0, 0, 0, .35); }
        .memory-text { min-width: 130px; }
        .memory-text small { display: block; color: var(--muted); font-size: 11px; }
        .badge {
          display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 11.5px; font-weight: 600;
          background: #e8f6ef; color: #0d7a4f;
        }
        .badge.paused { background: #fff3dc; color: #a35f00; }
        .badge.closing { background: #eef0f3; color: #5b6578; }
        .cause { display: block; max-width: 280px; overflow: hidden; text-overflow: ellipsis; color: var(--muted);
          font-size: 11.5px; }
        .restarts.some { color: var(--erred); font-weight: 600; }
        .empty { color: var(--muted); margin: 6px 0 0; }
        .progress-row { display: grid; grid-template-columns: 150px minmax(0, 1fr) 84px; gap: 10px; align-items: center;
          padding: 5px 0; }
        .progress-row .fn { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; font-weight: 600; }
        .swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 7px;
          vertical-align: -1px; }
        .pbar { display: flex; height: 14px; border-radius: 3px; background: var(--waiting); overflow: hidden; }
        .pbar span { height: 100%; }
        .pbar .erred { background: var(--erred); }
        .progress-row .ratio { text-align: right; font-variant-numeric: tabular-nums; font-weight: 600; }
        .progress-row .detail { grid-column: 2 / 4; color: var(--muted); font-size: 11.5px; margin-top: -3px; }
        .events { list-style: none; margin: 0; padding: 0; max-height: 330px; overflow-y: auto; }
        .events li { display: grid; grid-template-columns: 64px 92px minmax(0, 1fr); gap: 8px; padding: 4px 0;
          border-bottom: 1px solid #f0f1f4; align-items: baseline; }
        .events li:last-child { border-bottom: 0; }
        .events time { color: var(--muted); font-variant-numeric: tabular-nums; font-size: 12px; }
        .events .what { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
        .kind { font-size: 11px; font-weight: 700; text-transform: uppercase; letter-spacing: .4px; }
        .kind.joined, .kind.resumed { color: var(--ok); } .kind.restarted { color: var(--managed); }
        .kind.died, .kind.oom-killed, .kind.task-erred { color: var(--erred); }
        .kind.paused, .kind.retiring { color: var(--warn); } .kind.left { color: var(--muted); }
        .stream { width: 100%; display: block; font-size: 11px; }
        .stream .label { fill: #344054; font-weight: 600; }
        .stream .tick { fill: var(--muted); }
        .stream .grid { stroke: #eceef2; }
        .stream .lane { fill: #f7f8fa; }
        .functions { display: flex; flex-wrap: wrap; gap: 4px 16px; margin-top: 8px; color: #344054; }

        """#
}
