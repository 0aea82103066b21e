// LoadPilot HTML report: draws everything from the results document embedded in the
// page (docs/results.md), with inline SVG. Loads nothing: no fonts, images or scripts.
(function () {
  'use strict';

  var data = JSON.parse(document.getElementById('lp-results').textContent);
  var options = JSON.parse(document.getElementById('lp-options').textContent);
  var root = document.getElementById('lp-report');
  var COLORS = ['#2f6fdf', '#e8590c', '#2b8a3e', '#ae3ec9', '#c92a2a', '#0c8599', '#5c940d', '#d6336c', '#495057'];
  var KIND_COLORS = {
    connect: '#c92a2a', timeout: '#e8590c', reset: '#364fc7', tls: '#5f3dc4', http_4xx: '#f59f00',
    http_5xx: '#d6336c', protocol: '#0c8599', check: '#862e9c', interrupted: '#868e96'
  };
  var KIND_TEXT = {
    connect: 'could not open a connection (refused, unreachable, DNS)',
    timeout: 'no complete response within the timeout',
    reset: 'connection reset or closed mid-response',
    tls: 'TLS handshake or record failure',
    http_4xx: 'response status 400-499',
    http_5xx: 'response status 500 and up',
    protocol: 'the response was not valid HTTP/1.x',
    check: 'a check_<task> (or the task) raised',
    interrupted: 'cut off by Ctrl+C / SIGTERM while in flight'
  };

  // ---- formatting

  function num(v) { return typeof v === 'number' && isFinite(v); }
  function fmtMs(v) {
    if (!num(v)) return '-';
    if (v < 1) return v.toFixed(2) + ' ms';
    if (v < 100) return v.toFixed(1) + ' ms';
    if (v < 10000) return Math.round(v) + ' ms';
    return (v / 1000).toFixed(1) + ' s';
  }
  function fmtCount(v) { return num(v) ? Math.round(v).toLocaleString('en-US') : '-'; }
  function fmtPct(v) { return num(v) ? (v === 0 ? '0' : v < 0.01 ? v.toFixed(4) : v.toFixed(2)) + ' %' : '-'; }
  function fmtRate(v) { return num(v) ? (Math.abs(v) < 10 && v !== Math.round(v) ? v.toFixed(1) : Math.round(v).toLocaleString('en-US')) : '-'; }
  function fmtDuration(secs) {
    if (!num(secs)) return '-';
    if (secs < 1) return Math.round(secs * 1000) + 'ms';
    var s = Math.round(secs), h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60, out = '';
    if (h) out += h + 'h';
    if (m) out += m + 'm';
    if (r || !out) out += r + 's';
    return out;
  }
  var fmtClock = LoadPilot.fmtClock;
  // Axis labels: round tick values as they are (0.25 stays 0.25), thousands separated.
  function fmtAxis(v) { return Math.abs(v) >= 1000 ? Math.round(v).toLocaleString('en-US') : String(+v.toPrecision(3)); }
  function fmtAxisMs(v) {
    if (v >= 1000) return (v / 1000) + ' s';
    return (v < 1 && v > 0 ? v.toFixed(2) : String(+v.toPrecision(3))) + ' ms';
  }
  function fmtLimit(t) { return t.unit === 'percent' ? fmtPct(t.limit) : fmtMs(t.limit); }
  function fmtActual(t) {
    if (t.reason) return '-';
    return t.unit === 'percent' ? fmtPct(t.actual) : fmtMs(t.actual);
  }
  function fmtWhen(unix) {
    if (!num(unix) || unix <= 0) return '-';
    var d = new Date(unix * 1000);
    return d.toLocaleString('en-GB', { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit' });
  }

  var h = LoadPilot.h, append = LoadPilot.append, chart = LoadPilot.chart;

  function section(title, note) {
    var s = h('section', { cls: 'card' }, h('h3', { text: title }));
    if (note) s.appendChild(h('p', { cls: 'note', text: note }));
    return s;
  }
  function empty(text) { return h('p', { cls: 'empty', text: text }); }

  // columns: [{label, value(row) -> string|Node, num, wide}]
  function table(columns, rows, rowClass) {
    var head = h('tr');
    columns.forEach(function (c) { head.appendChild(h('th', { cls: c.num ? 'num' : null, text: c.label })); });
    var body = h('tbody');
    rows.forEach(function (r, i) {
      var tr = h('tr', { cls: rowClass ? rowClass(r, i) : null });
      columns.forEach(function (c) {
        var v = c.value(r, i);
        var blank = v == null || v === '';
        var td = h('td', { cls: [c.num ? 'num' : '', c.wide ? 'wide' : '', blank ? 'blank' : ''].join(' ').trim() || null, 'data-label': c.label });
        // One child beside the label, so the narrow layout keeps "label   value" on a line.
        if (!blank) td.appendChild(h('span', null, typeof v === 'number' ? String(v) : v));
        tr.appendChild(td);
      });
      body.appendChild(tr);
    });
    return h('div', { cls: 'table-wrap' }, h('table', null, h('thead', null, head), body));
  }

  function figure(label, value, sub) {
    return h('div', { cls: 'figure' }, h('div', { cls: 'label', text: label }), h('div', { cls: 'value', text: value }),
      sub ? h('div', { cls: 'sub', text: sub }) : null);
  }

  // ---- histograms (the same rules as the C++ Histogram: see docs/results.md)

  function valueAtQuantile(hist, q) {
    if (!hist || !hist.count) return null;
    if (q <= 0) return hist.min_us;
    if (q >= 1) return hist.max_us;
    var rank = Math.min(hist.count, Math.max(1, Math.ceil(q * hist.count * (1 - 1e-12))));
    var seen = 0, b = hist.buckets;
    for (var i = 0; i < b.length; i++) {
      seen += b[i][2];
      if (seen >= rank) {
        var mid = b[i][0] + Math.floor((b[i][1] - b[i][0] + 1) / 2);
        return Math.min(hist.max_us, Math.max(hist.min_us, mid));
      }
    }
    return hist.max_us;
  }
  // Samples below limit_us; the bucket holding the limit is shared out linearly.
  function countBelow(hist, limitUs) {
    var n = 0;
    hist.buckets.forEach(function (b) {
      if (b[1] < limitUs) n += b[2];
      else if (b[0] < limitUs) n += b[2] * (limitUs - b[0]) / (b[1] - b[0] + 1);
    });
    return n;
  }

  // ---- the report

  var timeline = data.timeline || [];
  var steps = data.steps || [];
  var knee = data.knee;
  var kneeStep = knee ? steps.filter(function (s) { return s.step === knee.step; })[0] : null;
  var thresholds = data.thresholds || [];
  var failed = thresholds.filter(function (t) { return !t.passed; });
  var hist = data.histograms;
  var plan = data.plan || {};

  function profileText() {
    var p = plan, out = (p.mode || '?') + ' · ' + fmtRate(p.rps) + ' rps';
    if (p.mode === 'ramp') out += ' · ramp-up ' + fmtDuration(p.ramp_up_secs) + ' then ' + fmtDuration(p.duration_secs);
    else out += ' · ' + fmtDuration(p.duration_secs);
    if (p.mode === 'step') out += ' in ' + p.steps + ' steps';
    return out;
  }

  // Markers every time chart shares: step boundaries, the knee, the end of the load.
  // One time axis for every chart: to the last snapshot (the drain included).
  var timeEnd = Math.max(timeline.length ? timeline[timeline.length - 1].elapsed_secs : 0, num(data.load_secs) ? data.load_secs : 0);

  function timeMarkers() {
    var markers = [], bands = [];
    steps.forEach(function (s) {
      if (s.step > 1) markers.push({ x: s.from_secs, label: 'step ' + s.step, kind: 'step' });
    });
    if (kneeStep) {
      bands.push({ x0: kneeStep.from_secs, x1: kneeStep.to_secs, kind: 'knee' });
      markers.push({ x: kneeStep.to_secs, label: 'knee: step ' + kneeStep.step + ' (' + fmtRate(kneeStep.target_rps) + ' rps)', kind: 'knee' });
    }
    var draining = timeline.filter(function (t) { return t.phase === 'draining' || t.phase === 'done'; });
    if (draining.length && num(data.load_secs) && data.load_secs > 0) {
      markers.push({ x: data.load_secs, label: data.stopped ? 'stopped' : 'load ended', kind: 'end' });
    }
    return { markers: markers, bands: bands };
  }

  // An interval's figures are drawn at its middle; gauges (in flight) at their instant.
  function mid(t) { return t.interval && t.interval.secs > 0 ? t.elapsed_secs - t.interval.secs / 2 : t.elapsed_secs; }
  function series(name, color, pick, dash) {
    return { name: name, color: color, dash: dash, points: timeline.map(function (t) { return [mid(t), pick(t)]; }) };
  }
  function gauge(name, color, pick) {
    return { name: name, color: color, points: timeline.map(function (t) { return [t.elapsed_secs, pick(t)]; }) };
  }
  // The interval's rate held over the whole interval: the line steps where the rate did.
  function held(name, color, pick) {
    var points = [];
    timeline.forEach(function (t) {
      var secs = t.interval ? t.interval.secs : 0;
      if (!(secs > 0)) return;
      var v = pick(t);
      points.push([t.elapsed_secs - secs, v], [t.elapsed_secs, v]);
    });
    return { name: name, color: color, points: points };
  }
  // The profile's rate (SPEC: ramp, constant, step, spike) from the plan, exactly.
  function rateAt(t) {
    var p = plan, d = p.duration_secs || 0, r = p.rps || 0;
    if (t < 0) return 0;
    if (p.mode === 'ramp') {
      var ramp = p.ramp_up_secs || 0;
      if (t < ramp) return r * t / ramp;
      return t < ramp + d ? r : 0;
    }
    if (t >= d) return 0;
    if (p.mode === 'step') return r * Math.min(p.steps, Math.floor(t / (d / p.steps)) + 1) / p.steps;
    if (p.mode === 'spike') return t < d / 3 || t >= 2 * d / 3 ? 0.2 * r : r;
    return r;
  }
  function targetSeries(name, color) {
    var end = num(data.load_secs) && data.load_secs > 0 ? data.load_secs : plan.total_secs || 0;
    var cuts = [0, end], d = plan.duration_secs || 0, i;
    if (plan.mode === 'ramp') cuts.push(plan.ramp_up_secs || 0);
    if (plan.mode === 'step') for (i = 1; i < plan.steps; i++) cuts.push(d * i / plan.steps);
    if (plan.mode === 'spike') cuts.push(d / 3, 2 * d / 3);
    cuts = cuts.filter(function (c) { return c >= 0 && c <= end; }).sort(function (a, b) { return a - b; });
    var points = [];
    cuts.forEach(function (c, k) {
      if (k > 0) points.push([c, rateAt(c - 1e-9)]);
      if (k < cuts.length - 1) points.push([c, rateAt(c)]);
    });
    return { name: name, color: color, dash: true, points: points };
  }

  function perSecond(t, n) { return t.interval && t.interval.secs > 0 ? n / t.interval.secs : null; }

  function header() {
    var meta = h('dl', { cls: 'meta' });
    function row(label, value) { meta.appendChild(h('div', null, h('dt', { text: label }), h('dd', null, value))); }
    row('target', data.target_url || '-');
    row('profile', profileText());
    row('engine', data.mode === 'python' ? 'Python mode (virtual users)' : 'static mode (C++ engine)');
    row('started', fmtWhen(data.started_at) + (data.started_at_iso ? ' (' + data.started_at_iso + ')' : ''));
    row('duration', fmtDuration(data.duration_secs) + ' (load ' + fmtDuration(data.load_secs) + ')' + (data.stopped ? ', stopped early' : ''));
    row('agents', (data.agents || []).length ? String(data.agents.length) : 'none (this machine)');
    if (data.vusers) {
      var v = data.vusers;
      row('virtual users', fmtCount(v.started) + (v.fixed ? ' (fixed)' : v.started > v.size ? ' (grew from ' + fmtCount(v.size) + ', cap ' + fmtCount(v.cap) + ')' : '') +
        (v.saturated ? ' · all busy at times' : ''));
    }
    var lp = data.loadpilot || {};
    row('LoadPilot', (lp.version || '?') + ' · ' + (lp.commit || '?') + ' · ' + (lp.build_type || '?'));
    var card = h('header', { cls: 'card' }, h('h1', { text: data.scenario || 'LoadPilot run' }),
      h('p', { cls: 'muted', text: 'LoadPilot load test report' }), meta);
    if ((data.command_line || []).length) {
      card.appendChild(h('div', { cls: 'muted', style: 'margin-top:8px;font-size:12px' }, 'command line',
        h('code', { cls: 'cmd', text: data.command_line.join(' ') })));
    }
    return card;
  }

  function verdict() {
    var pass = failed.length === 0;
    var text = thresholds.length === 0 ? 'no thresholds set'
      : pass ? 'all ' + thresholds.length + ' thresholds passed'
        : failed.length + ' of ' + thresholds.length + ' thresholds failed: ' + failed.map(function (t) { return t.key; }).join(', ');
    var card = h('section', { cls: 'card verdict ' + (pass ? 'pass' : 'fail') },
      h('span', { cls: 'word', text: pass ? '✓ PASSED' : '✗ FAILED' }), h('span', { text: text }));
    var s = section('Thresholds', 'Judged on the whole run: latency limits on every response and timeout, from the time each request was due.');
    if (thresholds.length) {
      s.appendChild(table([
        { label: 'result', value: function (t) { return h('span', { cls: t.passed ? 'ok' : 'bad', text: t.passed ? '✓ pass' : '✗ fail' }); } },
        { label: 'threshold', value: function (t) { return t.key; } },
        { label: 'actual', num: true, value: fmtActual },
        { label: 'limit', num: true, value: function (t) { return fmtLimit(t) + (t['default'] ? ' (default)' : ''); } },
        { label: 'note', value: function (t) { return t.reason || ''; } }
      ], thresholds));
    } else {
      s.appendChild(empty('No thresholds set.'));
    }
    return [card, s];
  }

  function figures() {
    var f = h('div', { cls: 'figures' });
    var lat = data.latency || {};
    f.appendChild(figure('requests', fmtCount(data.requests_total), fmtCount(data.iterations) + ' iterations'));
    f.appendChild(figure('achieved rate', fmtRate(data.rps_actual) + ' rps', 'target ' + fmtRate(data.rps_target) + ' rps'));
    f.appendChild(figure('errors', fmtCount(data.errors_total), fmtPct(data.error_rate) + ' error rate'));
    f.appendChild(figure('p50', fmtMs(lat.p50_ms), 'median latency'));
    f.appendChild(figure('p95', fmtMs(lat.p95_ms)));
    f.appendChild(figure('p99', fmtMs(lat.p99_ms)));
    f.appendChild(figure('max', fmtMs(lat.max_ms), fmtCount(lat.count) + ' samples'));
    f.appendChild(figure('dropped', fmtCount(data.dropped), fmtPct(data.dropped_rate) + ' of due iterations'));
    f.appendChild(figure('late', fmtCount(data.late), 'sent ≥ 10 ms after due'));
    if (data.setup && (data.setup.requests || data.setup.errors)) {
      f.appendChild(figure('setup calls', fmtCount(data.setup.requests), fmtCount(data.setup.errors) + ' errors · on_start/on_stop, not in the load'));
    }
    return f;
  }

  function timeCharts() {
    var wrap = h('div', { cls: 'charts' });
    if (!timeline.length) {
      var s0 = section('Over time');
      s0.appendChild(empty('No interval figures in this results document.'));
      return s0;
    }
    var mk = timeMarkers();

    var rps = section('Requests per second', 'Achieved: responses and failures completed per interval. Target: the profile\'s iterations per second (a chained task makes several requests per iteration).');
    chart(rps, {
      series: [held('achieved', COLORS[0], function (t) { return t.interval.rps; }), targetSeries('target', COLORS[1])],
      yFormat: fmtAxis, xMax: timeEnd, markers: mk.markers, bands: mk.bands
    });
    wrap.appendChild(rps);

    var lat = section('Latency per interval', 'Percentiles of each interval alone (every response and timeout, from its due time).');
    var latOf = function (key) { return function (t) { return t.interval && t.interval.latency && t.interval.latency.count ? t.interval.latency[key] : null; }; };
    chart(lat, {
      series: [series('p50', COLORS[2], latOf('p50_ms')), series('p95', COLORS[1], latOf('p95_ms')), series('p99', COLORS[4], latOf('p99_ms'))],
      yFormat: fmtAxisMs, xMax: timeEnd, markers: mk.markers, bands: mk.bands
    });
    wrap.appendChild(lat);

    var kinds = {};
    timeline.forEach(function (t) { Object.keys((t.interval && t.interval.errors_by_kind) || {}).forEach(function (k) { kinds[k] = true; }); });
    var errs = section('Errors per second, by kind');
    var kindList = Object.keys(kinds);
    if (kindList.length) {
      chart(errs, {
        series: kindList.map(function (k, i) {
          return series(k, KIND_COLORS[k] || COLORS[i % COLORS.length], function (t) { return perSecond(t, ((t.interval && t.interval.errors_by_kind) || {})[k] || 0); });
        }),
        yFormat: fmtAxis, xMax: timeEnd, markers: mk.markers, bands: mk.bands
      });
    } else {
      errs.appendChild(empty('No errors.'));
    }
    wrap.appendChild(errs);

    var conc = section('In flight and connections', 'Requests on the wire and open connections at each snapshot.');
    chart(conc, {
      series: [gauge('in flight', COLORS[3], function (t) { return t.in_flight; }), gauge('connections', COLORS[5], function (t) { return t.connections; })],
      yFormat: fmtAxis, xMax: timeEnd, markers: mk.markers, bands: mk.bands
    });
    wrap.appendChild(conc);

    var anyLag = timeline.some(function (t) { return t.interval && (t.interval.late || t.interval.dropped); });
    if (anyLag) {
      var lag = section('Dropped and late iterations per second', 'Dropped: due and never sent. Late: sent 10 ms or more after their due time. The generator (connections, virtual users or CPU) could not keep up.');
      chart(lag, {
        series: [series('dropped', COLORS[4], function (t) { return perSecond(t, t.interval ? t.interval.dropped : 0); }),
          series('late', COLORS[6], function (t) { return perSecond(t, t.interval ? t.interval.late : 0); })],
        yFormat: fmtAxis, xMax: timeEnd, markers: mk.markers, bands: mk.bands
      });
      wrap.appendChild(lag);
    }
    return wrap;
  }

  function distribution() {
    var wrap = h('div', { cls: 'charts' });
    var spec = section('Percentile spectrum', 'From the merged histogram of the whole run (log scale out to 99.99 %).');
    if (hist && hist.latency && hist.latency.count) {
      var xs = [];
      for (var x = 0; x <= 4.0001; x += 0.05) xs.push(+x.toFixed(2));
      var curve = function (hg) {
        return xs.map(function (x) { var v = valueAtQuantile(hg, 1 - Math.pow(10, -x)); return [x, v == null ? null : v / 1000]; });
      };
      var labels = { 0: '0%', 1: '90%', 2: '99%', 3: '99.9%', 4: '99.99%' };
      var hlines = thresholds.filter(function (t) { return t.unit === 'ms'; }).map(function (t) {
        return { y: t.limit, label: t.key + ' limit ' + fmtMs(t.limit), kind: 'limit' };
      });
      var sers = [{ name: 'all responses and timeouts', color: COLORS[0], points: curve(hist.latency) }];
      if (hist.success && hist.success.count) sers.push({ name: 'successes', color: COLORS[2], points: curve(hist.success), dash: true });
      chart(spec, {
        series: sers, xMax: 4, yFormat: fmtAxisMs, hlines: hlines,
        xTicks: function () { return [0, 1, 2, 3, 4]; },
        xFormat: function (x) { return labels[x] || ((100 - 100 * Math.pow(10, -x)).toPrecision(6).replace(/0+$/, '').replace(/\.$/, '') + '%'); }
      });
    } else {
      spec.appendChild(empty(hist ? 'No latency samples.' : 'Not available: this results document carries no histograms.'));
    }
    wrap.appendChild(spec);

    var ranges = section('Response-time ranges', 'Share of responses and timeouts by latency (limits set with --report-ranges).');
    if (hist && hist.latency && hist.latency.count) {
      var limits = (options.ranges_ms || []).slice().sort(function (a, b) { return a - b; });
      var total = hist.latency.count, prev = 0, rows = [], lower = 0;
      var palette = ['#2b8a3e', '#94d82d', '#f59f00', '#e8590c', '#c92a2a', '#862e9c'];
      limits.forEach(function (l, i) {
        var below = countBelow(hist.latency, l * 1000);
        rows.push({ label: (i === 0 ? 't < ' : fmtMs(lower) + ' ≤ t < ') + fmtMs(l), n: below - prev, color: palette[i % palette.length] });
        prev = below;
        lower = l;
      });
      rows.push({ label: limits.length ? 't ≥ ' + fmtMs(lower) : 'all', n: total - prev, color: palette[limits.length % palette.length] });
      var bar = h('div', { cls: 'ranges', role: 'img' });
      rows.forEach(function (r) {
        var seg = h('span', { title: r.label });
        seg.style.width = (100 * r.n / total) + '%';
        seg.style.background = r.color;
        bar.appendChild(seg);
      });
      ranges.appendChild(bar);
      ranges.appendChild(table([
        { label: 'range', value: function (r) { var sw = h('span', { cls: 'swatch' }); sw.style.background = r.color; return [sw, r.label]; } },
        { label: 'responses', num: true, value: function (r) { return fmtCount(r.n); } },
        { label: 'share', num: true, value: function (r) { return fmtPct(100 * r.n / total); } }
      ], rows));
      var noAnswer = Math.max(0, (data.requests_total || 0) - total);
      ranges.appendChild(h('p', { cls: 'note', text: fmtCount(noAnswer) + ' requests had no response to time (connect, reset, TLS, protocol or interrupted) and are not in these figures.' }));
    } else {
      ranges.appendChild(empty(hist ? 'No latency samples.' : 'Not available: this results document carries no histograms.'));
    }
    wrap.appendChild(ranges);
    return wrap;
  }

  function latencyTable() {
    var s = section('Latency', 'all: every response and timeout, from when it was due (what thresholds use). success: successful responses only. service: from the first byte written (what the server took).');
    var rows = [['all', data.latency], ['success', data.success_latency], ['service', data.service_latency]].filter(function (r) { return r[1]; });
    var cols = [{ label: 'latency', value: function (r) { return r[0]; } }];
    [['min', 'min_ms'], ['mean', 'mean_ms'], ['p50', 'p50_ms'], ['p90', 'p90_ms'], ['p95', 'p95_ms'], ['p99', 'p99_ms'], ['p99.9', 'p999_ms'], ['max', 'max_ms']].forEach(function (c) {
      cols.push({ label: c[0], num: true, value: function (r) { return r[1].count ? fmtMs(r[1][c[1]]) : '-'; } });
    });
    cols.push({ label: 'samples', num: true, value: function (r) { return fmtCount(r[1].count); } });
    s.appendChild(table(cols, rows));
    return s;
  }

  function tasksTable() {
    var s = section('Tasks');
    var tasks = data.tasks || [];
    if (!tasks.length) { s.appendChild(empty('No tasks.')); return s; }
    s.appendChild(table([
      { label: 'task', value: function (t) { return t.name; } },
      { label: 'requests', num: true, value: function (t) { return fmtCount(t.requests); } },
      { label: 'errors', num: true, value: function (t) { return fmtCount(t.errors); } },
      { label: 'error %', num: true, value: function (t) { return fmtPct(t.error_rate); } },
      { label: 'rps', num: true, value: function (t) { return fmtRate(t.rps); } },
      { label: 'p50', num: true, value: function (t) { return fmtMs(t.latency.p50_ms); } },
      { label: 'p95', num: true, value: function (t) { return fmtMs(t.latency.p95_ms); } },
      { label: 'p99', num: true, value: function (t) { return fmtMs(t.latency.p99_ms); } },
      { label: 'max', num: true, value: function (t) { return fmtMs(t.latency.max_ms); } }
    ], tasks));
    return s;
  }

  function errorsSection() {
    var out = [];
    var kinds = Object.keys(data.errors_by_kind || {}).filter(function (k) { return data.errors_by_kind[k] > 0; });
    var s = section('Errors by kind');
    if (kinds.length) {
      s.appendChild(table([
        { label: 'kind', value: function (k) { return k; } },
        { label: 'count', num: true, value: function (k) { return fmtCount(data.errors_by_kind[k]); } },
        { label: 'of requests', num: true, value: function (k) { return fmtPct(data.requests_total ? 100 * data.errors_by_kind[k] / data.requests_total : 0); } },
        { label: 'meaning', wide: true, value: function (k) { return KIND_TEXT[k] || ''; } }
      ], kinds));
    } else {
      s.appendChild(empty('No errors.'));
    }
    out.push(s);
    var failures = data.check_failures || [];
    if (failures.length) {
      var c = section('Check failures by message', 'Distinct messages raised by check_<task> (or by the task itself), most frequent first.');
      // Messages are "task: ExceptionType: text"; the task gets a column of its own.
      var names = (data.tasks || []).map(function (t) { return t.name; });
      var taskOf = function (f) { var i = f.message.indexOf(': '); return i > 0 && names.indexOf(f.message.slice(0, i)) >= 0 ? f.message.slice(0, i) : null; };
      c.appendChild(table([
        { label: 'task', value: function (f) { return taskOf(f) || '-'; } },
        { label: 'message', wide: true, value: function (f) { var t = taskOf(f); return t ? f.message.slice(t.length + 2) : f.message; } },
        { label: 'count', num: true, value: function (f) { return fmtCount(f.count); } }
      ], failures));
      out.push(c);
    }
    if (data.setup && (data.setup.requests || data.setup.errors)) {
      var st = section('Setup calls', 'HTTP calls made by on_start and on_stop (logins, cleanup): reported apart, never in the load figures or thresholds.');
      st.appendChild(table([
        { label: 'requests', num: true, value: function (r) { return fmtCount(r.requests); } },
        { label: 'errors', num: true, value: function (r) { return fmtCount(r.errors); } }
      ], [data.setup]));
      out.push(st);
    }
    return out;
  }

  function stepsSection() {
    if (!steps.length) return null;
    var note = 'Each step\'s own figures: the difference of the histograms at its boundaries, not a running total. ';
    if (knee) {
      note += knee.last_step ? 'Every step met every threshold: the knee is at or above the highest rate tested (step ' + knee.step + ', ' + fmtRate(knee.target_rps) + ' rps).'
        : 'Knee point: step ' + knee.step + ' (' + fmtRate(knee.target_rps) + ' rps), the last step that met every threshold.';
    } else {
      note += 'No step met every threshold.';
    }
    var s = section('Steps', note);
    s.appendChild(table([
      { label: 'step', value: function (st) { return [String(st.step), knee && knee.step === st.step ? h('span', { cls: 'badge knee', text: 'knee' }) : null, st.partial ? h('span', { cls: 'badge', text: 'partial' }) : null]; } },
      { label: 'window', value: function (st) { return fmtClock(st.from_secs) + '–' + fmtClock(st.to_secs); } },
      { label: 'target rps', num: true, value: function (st) { return fmtRate(st.target_rps); } },
      { label: 'achieved rps', num: true, value: function (st) { return fmtRate(st.rps); } },
      { label: 'requests', num: true, value: function (st) { return fmtCount(st.requests); } },
      { label: 'error %', num: true, value: function (st) { return fmtPct(st.error_rate); } },
      { label: 'p50', num: true, value: function (st) { return fmtMs(st.latency.p50_ms); } },
      { label: 'p95', num: true, value: function (st) { return fmtMs(st.latency.p95_ms); } },
      { label: 'p99', num: true, value: function (st) { return fmtMs(st.latency.p99_ms); } },
      { label: 'dropped %', num: true, value: function (st) { return fmtPct(st.dropped_rate); } },
      { label: 'verdict', value: function (st) {
        if (st.partial) return 'not judged';
        var bad = (st.thresholds || []).filter(function (t) { return !t.passed; }).map(function (t) { return t.key; });
        return h('span', { cls: bad.length ? 'bad' : 'ok', text: bad.length ? '✗ ' + bad.join(', ') : '✓' });
      } }
    ], steps, function (st) { return knee && knee.step === st.step ? 'knee' : null; }));
    return s;
  }

  function agentsSection() {
    var agents = data.agents || [];
    if (!agents.length) return null;
    var s = section('Agents', 'Start skew: each agent\'s measured start against the planned start time.');
    s.appendChild(table([
      { label: 'agent', value: function (a) { return a.id; } },
      { label: 'state', value: function (a) { return a.state; } },
      { label: 'requests', num: true, value: function (a) { return fmtCount(a.requests); } },
      { label: 'start skew', num: true, value: function (a) { return fmtMs(a.start_skew_ms); } }
    ], agents));
    return s;
  }

  var main = h('main');
  append(main, header());
  append(main, verdict());
  append(main, h('h2', { text: 'Summary' }));
  append(main, figures());
  append(main, h('h2', { text: 'Over time' }));
  root.appendChild(main);  // charts measure their container: attach before drawing
  append(main, timeCharts());
  append(main, stepsSection());
  append(main, h('h2', { text: 'Latency distribution' }));
  append(main, distribution());
  append(main, latencyTable());
  append(main, h('h2', { text: 'Breakdown' }));
  append(main, tasksTable());
  append(main, errorsSection());
  append(main, agentsSection());
  var lp = data.loadpilot || {};
  append(main, h('footer', { text: 'Generated by LoadPilot ' + (lp.version || '') + ' (' + (lp.commit || '') + ', ' + (lp.compiler || '') + ') · results schema ' + data.schema_version + '. This file loads nothing from the network.' }));
  LoadPilot.redrawAll();
  document.documentElement.setAttribute('data-report-ready', 'true');
})();
