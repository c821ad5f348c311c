// wsgate's dashboard page: it reads one stream of server-sent events from the node
// (dashboard/api/events: the last hour, then a sample every second), draws it with
// uPlot, and searches and kicks connections through the node's API. With an API key
// the key is asked for once, kept in this tab's sessionStorage and sent only in the
// Authorization header: never in a URL or a cookie.
(() => {
  'use strict';

  const KEY_STORAGE = 'wsgate.dashboard.key';
  const RETRY_MS = 2000;
  const $ = (id) => document.getElementById(id);

  let apiKey = sessionStorage.getItem(KEY_STORAGE);
  let series = []; // names, in the order of the stream's values
  let times = []; // Unix seconds
  let columns = []; // one array per series, aligned with times
  let historySeconds = 3600;
  const charts = {};
  let lastSample = null;

  const authorization = () => (apiKey ? { Authorization: `Bearer ${apiKey}` } : {});
  const number = (value) => (value === null || value === undefined ? '–' : value.toLocaleString('en-US'));
  const milliseconds = (value) => (value === null || value === undefined ? '–' : `${value < 10 ? value.toFixed(2) : Math.round(value)} ms`);

  function setStatus(state, text) {
    const status = $('status');
    status.dataset.state = state;
    status.textContent = text;
  }

  // The key prompt: shown when the stream answers 401; a refused key is not kept.
  function askForKey(message) {
    $('board').hidden = true;
    $('key-form').hidden = false;
    $('key-error').textContent = message;
    $('key-input').focus();
    setStatus('down', 'key required');
  }

  $('key-form').addEventListener('submit', (event) => {
    event.preventDefault();
    apiKey = $('key-input').value;
    $('key-input').value = '';
    connect(true);
  });

  let retryTimer = null;
  function retryLater() {
    setStatus('down', 'reconnecting');
    clearTimeout(retryTimer);
    retryTimer = setTimeout(() => connect(false), RETRY_MS);
  }

  async function connect(keyIsNew) {
    setStatus('connecting', 'connecting');
    let response;
    try {
      response = await fetch('dashboard/api/events', { headers: authorization(), cache: 'no-store' });
    } catch {
      retryLater();
      return;
    }
    if (response.status === 401) {
      sessionStorage.removeItem(KEY_STORAGE);
      apiKey = null;
      askForKey(keyIsNew ? 'That key was refused.' : '');
      return;
    }
    if (response.status === 403) {
      const answer = await response.json().catch(() => ({}));
      $('refused').textContent = answer.message ?? 'This node refused the dashboard.';
      $('refused').hidden = false;
      setStatus('down', 'refused');
      return;
    }
    if (!response.ok || !response.body) {
      retryLater();
      return;
    }
    if (apiKey) {
      sessionStorage.setItem(KEY_STORAGE, apiKey);
    }
    $('key-form').hidden = true;
    $('board').hidden = false;
    setStatus('live', 'live');
    try {
      await readEvents(response.body);
    } catch {
      // The stream broke: reconnect below.
    }
    retryLater();
  }

  // readEvents parses server-sent events ("event: name\ndata: json\n\n").
  async function readEvents(body) {
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) {
        return;
      }
      buffer += value;
      let end;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let name = 'message';
        let data = '';
        for (const line of block.split('\n')) {
          if (line.startsWith('event: ')) name = line.slice(7);
          else if (line.startsWith('data: ')) data += line.slice(6);
        }
        if (name === 'history') onHistory(JSON.parse(data));
        else if (name === 'sample') onSample(JSON.parse(data));
      }
    }
  }

  function onHistory(history) {
    series = history.series;
    historySeconds = history.history_seconds;
    const count = history.values[0]?.length ?? 0;
    times = Array.from({ length: count }, (_, index) => history.start + index);
    columns = history.values.map((values) => values.slice());
    drawCharts(true);
  }

  function onSample(sample) {
    lastSample = sample;
    const last = times.length - 1;
    if (last >= 0 && sample.time <= times[last]) {
      columns.forEach((column, index) => { column[last] = sample.values[index]; });
    } else {
      times.push(sample.time);
      columns.forEach((column, index) => column.push(sample.values[index]));
      while (times.length > historySeconds) {
        times.shift();
        columns.forEach((column) => column.shift());
      }
    }
    drawCharts(false);
    showNumbers(sample);
    showTables(sample);
  }

  const column = (name) => columns[series.indexOf(name)] ?? [];
  const value = (sample, name) => sample.values[series.indexOf(name)];

  function showNumbers(sample) {
    $('node-version').textContent = `${sample.node.version} · up ${duration(sample.node.uptime_seconds)}`;
    $('now-connections').textContent = number(value(sample, 'connections'));
    $('now-users').textContent = number(value(sample, 'users'));
    $('now-connects').textContent = number(value(sample, 'connects'));
    const reasons = series.filter((name) => name.startsWith('disconnects.'));
    $('now-disconnects').textContent = number(reasons.reduce((sum, name) => sum + (value(sample, name) ?? 0), 0));
    // The split by reason over the last minute, largest first.
    const recent = reasons
      .map((name) => [name.slice('disconnects.'.length), column(name).slice(-60).reduce((sum, count) => sum + (count ?? 0), 0)])
      .filter(([, count]) => count > 0)
      .sort((left, right) => right[1] - left[1]);
    $('disconnect-reasons').textContent = recent.length ? `last minute: ${recent.map(([name, count]) => `${name} ${count}`).join(' · ')}` : '';
    $('now-messages-in').textContent = number(value(sample, 'messages_in'));
    $('now-messages-out').textContent = number(value(sample, 'messages_out'));
    showLatency('fanout');
    showLatency('ping');
  }

  // showLatency shows the newest p50 and p99 of a latency within the last minute:
  // a second without a broadcast (or a ping answer) has none.
  function showLatency(name) {
    const p50 = column(`${name}_p50_ms`);
    let index = p50.length - 1;
    while (index >= 0 && index >= p50.length - 60 && p50[index] === null) index--;
    const found = index >= 0 && index >= p50.length - 60 && p50[index] !== null;
    $(`now-${name}`).textContent = found
      ? `${milliseconds(p50[index])} / ${milliseconds(column(`${name}_p99_ms`)[index])}`
      : '– / –';
    const age = p50.length - 1 - index;
    $(`${name}-age`).textContent = found && age > 0 ? `${age} s ago` : '';
  }

  function duration(seconds) {
    if (seconds < 120) return `${Math.floor(seconds)} s`;
    if (seconds < 7200) return `${Math.floor(seconds / 60)} min`;
    if (seconds < 172800) return `${Math.floor(seconds / 3600)} h`;
    return `${Math.floor(seconds / 86400)} d`;
  }

  // cell returns a table cell with text (never HTML: ids and names come from clients).
  function cell(text, className) {
    const element = document.createElement('td');
    element.textContent = text;
    if (className) element.className = className;
    return element;
  }

  function fill(table, rows) {
    const body = $(table).tBodies[0];
    body.replaceChildren(...rows.map((cells) => {
      const row = document.createElement('tr');
      row.append(...cells);
      return row;
    }));
  }

  function showTables(sample) {
    fill('top-users', sample.top_users.map((user) => {
      const link = document.createElement('button');
      link.className = 'link';
      link.type = 'button';
      link.textContent = user.user_id;
      link.title = 'Show the connections of this user';
      link.addEventListener('click', () => search(user.user_id));
      const first = document.createElement('td');
      first.append(link);
      return [first, cell(number(user.connections), 'count')];
    }));
    fill('channels', sample.channels.map((channel) => [
      cell(channel.channel), cell(number(channel.subscribers), 'count'), cell(number(channel.users), 'count'),
    ]));
    const states = { single: '(a single node)', ok: '(cluster)', unavailable: '(Redis unreachable: this node only)' };
    $('cluster-state').textContent = states[sample.cluster] ?? '';
    fill('nodes', sample.nodes.map((node) => [
      cell(node.id || node.tag ? `${node.id || node.tag}${node.self ? ' (this)' : ''}` : 'this node', 'mono'),
      cell(number(node.connections), 'count'),
      cell(number(node.users), 'count'),
      cell(node.state, `state-${node.state}`),
    ]));
  }

  // The charts: each a uPlot over the shared time axis and some of the series.
  const palette = ['#2563eb', '#16a34a', '#dc2626', '#9333ea', '#ea580c', '#0891b2', '#ca8a04', '#db2777', '#4b5563', '#65a30d', '#7c3aed', '#0f766e', '#b45309'];
  const chartSpecs = {
    'chart-connections': () => ['connections', 'users'],
    'chart-churn': () => ['connects', ...series.filter((name) => name.startsWith('disconnects.'))],
    'chart-messages': () => ['messages_in', 'messages_out'],
    'chart-latency': () => ['fanout_p50_ms', 'fanout_p99_ms', 'ping_p50_ms', 'ping_p99_ms'],
  };

  function chartData(names) {
    return [times, ...names.map((name) => column(name))];
  }

  // decades keeps the powers of ten of a logarithmic axis's splits (null drops one),
  // so its grid has a line per decade instead of nine.
  const decades = (chart, splits) => splits.map((split) => (Math.abs(Math.log10(split) % 1) < 1e-9 ? split : null));

  // autoShown lists the disconnect reasons the page has shown by itself once they
  // had a disconnect; after that the legend is the operator's.
  const autoShown = new Set();

  function drawCharts(rebuild) {
    if (typeof uPlot === 'undefined') return;
    for (const [id, names] of Object.entries(chartSpecs)) {
      const picked = names();
      const element = $(id);
      if (rebuild || !charts[id]) {
        charts[id]?.destroy();
        const width = Math.max(element.clientWidth, 280);
        charts[id] = new uPlot({
          width,
          height: 220,
          // Latencies span microseconds to seconds: a logarithmic axis shows both.
          scales: { x: { time: true }, y: id === 'chart-latency' ? { distr: 3 } : {} },
          series: [{}, ...picked.map((name, index) => ({
            label: name.replace('disconnects.', ''),
            stroke: palette[index % palette.length],
            width: 1.5,
            spanGaps: false,
            // A reason without any disconnect in the hour starts hidden; it shows
            // with its first disconnect (the legend toggles it).
            show: !name.startsWith('disconnects.') || column(name).some((count) => count > 0),
          }))],
          axes: [{}, id === 'chart-latency' ? { size: 60, grid: { filter: decades }, ticks: { filter: decades } } : { size: 60 }],
          legend: { live: false },
        }, chartData(picked), element);
        continue;
      }
      charts[id].setData(chartData(picked));
      picked.forEach((name, index) => {
        const shown = charts[id].series[index + 1].show;
        if (!shown && name.startsWith('disconnects.') && !autoShown.has(name) && column(name).some((count) => count > 0)) {
          autoShown.add(name);
          charts[id].setSeries(index + 1, { show: true });
        }
      });
    }
  }

  const resize = new ResizeObserver(() => {
    for (const [id, chart] of Object.entries(charts)) {
      chart.setSize({ width: Math.max($(id).clientWidth, 280), height: 220 });
    }
  });
  for (const id of Object.keys(chartSpecs)) resize.observe($(id));

  // Search and kick, through the node's API with the same key.
  $('search-form').addEventListener('submit', (event) => {
    event.preventDefault();
    search($('search-input').value.trim());
  });

  async function search(query) {
    if (!query) return;
    $('search-input').value = query;
    $('search-status').textContent = 'searching…';
    let answer;
    try {
      const response = await fetch(`dashboard/api/search?q=${encodeURIComponent(query)}`, { headers: authorization(), cache: 'no-store' });
      answer = await response.json();
      if (!response.ok) {
        $('search-status').textContent = answer.message ?? `search failed (${response.status})`;
        return;
      }
    } catch (error) {
      $('search-status').textContent = `search failed: ${error.message}`;
      return;
    }
    const found = answer.connections;
    $('search-status').textContent = found.length
      ? `${found.length} connection${found.length === 1 ? '' : 's'}${answer.truncated ? ' (first ones only)' : ''}`
      : `no connection of user or id "${query}" on this node`;
    $('search-results').hidden = found.length === 0;
    fill('search-results', found.map((connection) => {
      const kick = document.createElement('button');
      kick.type = 'button';
      kick.className = 'kick';
      kick.textContent = 'Kick';
      kick.addEventListener('click', () => kickConnection(connection, query));
      const action = document.createElement('td');
      action.append(kick);
      return [
        cell(connection.id, 'mono'),
        cell(connection.user_id ?? ''),
        cell(connection.local ? 'this' : connection.node, 'mono'),
        cell(connection.connected_at ? new Date(connection.connected_at).toLocaleString() : ''),
        cell(connection.remote_addr ?? '', 'mono'),
        cell(connection.local ? number(connection.pending_bytes) : '', 'count'),
        action,
      ];
    }));
  }

  async function kickConnection(connection, query) {
    const who = connection.user_id ? ` of user "${connection.user_id}"` : '';
    if (!window.confirm(`Kick connection ${connection.id}${who}? It is closed with 4403 "kicked" and does not reconnect by itself.`)) {
      return;
    }
    try {
      const response = await fetch(`api/v1/connections/${encodeURIComponent(connection.id)}`, { method: 'DELETE', headers: authorization() });
      const answer = await response.json().catch(() => ({}));
      $('search-status').textContent = response.ok ? `kicked ${connection.id}` : (answer.message ?? `kick failed (${response.status})`);
    } catch (error) {
      $('search-status').textContent = `kick failed: ${error.message}`;
      return;
    }
    setTimeout(() => search(query), 300);
  }

  // A hook for tests and curious operators: the charts and the newest sample.
  window.wsgateDashboard = { charts, latest: () => lastSample };

  connect(false);
})();
