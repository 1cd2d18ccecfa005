/// The dashboard's live page, served at `/status`: one HTML document with its style and script
/// inline, so it needs nothing from the internet and nothing beside the `drover` binary.
///
/// It renders the workers, task progress per function, the task stream (SVG) and recent events
/// as elements, and keeps them current from the server-sent events of `/api/v1/stream`.
enum StatusPage {
    static let html =
        head + "<style>\n" + style + "</style>\n</head>\n" + body + "<script>\n" + script + "</script>\n"
        + "</body>\n</html>\n"

    private static let head = #"""
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>Drover dashboard</title>
        <link rel="icon" href="data:,">

        """#

    private static let body = #"""
        <body>
        <header>
          <div class="brand">Drover <span>dashboard</span></div>
          <dl class="summary" id="summary"></dl>
          <div class="live" id="live"><span class="dot"></span><span id="live-text">connecting…</span></div>
        </header>
        <main>
          <section class="panel" id="workers-panel">
            <h2>Workers <span class="count" id="workers-count"></span></h2>
            <div class="scroll">
              <table class="workers">
                <thead>
                  <tr>
                    <th>Name</th><th>Address</th><th class="num">Threads</th>
                    <th class="num" title="running now / assigned">Tasks</th>
                    <th class="num" title="results held">Held</th>
                    <th>Memory <span class="legend"><i class="managed"></i>managed <i class="unmanaged"></i>unmanaged
                      <i class="spilled"></i>spilled</span></th>
                    <th class="num" title="fetched from / served to peers">Transfers in / out</th>
                    <th>Status</th><th>Restarts</th>
                  </tr>
                </thead>
                <tbody id="workers"></tbody>
              </table>
            </div>
            <p class="empty" id="workers-empty">No workers connected.</p>
          </section>
          <div class="columns">
            <section class="panel">
              <h2>Progress <span class="count" id="progress-count"></span></h2>
              <div id="progress"></div>
              <p class="empty" id="progress-empty">No tasks.</p>
            </section>
            <section class="panel">
              <h2>Events</h2>
              <ol class="events" id="events"></ol>
              <p class="empty" id="events-empty">Nothing has happened yet.</p>
            </section>
          </div>
          <section class="panel">
            <h2>Task stream <span class="count">last 60 s, one row per thread</span></h2>
            <svg id="stream" class="stream" height="40"></svg>
            <div class="functions" id="stream-legend"></div>
          </section>
        </main>

        """#
}
