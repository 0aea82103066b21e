// LoadPilot report: the DOM helpers and the SVG line charts (axes, round ticks, markers,
// bands, limit lines, hover read-out), drawn to the width of their container and redrawn
// when the window is resized. report.js draws the report with them.
var LoadPilot = (function () {
  'use strict';

  var SVGNS = 'http://www.w3.org/2000/svg';

  // ---- DOM

  function h(tag, attrs) {
    var e = document.createElement(tag);
    if (attrs) {
      for (var k in attrs) {
        if (!Object.prototype.hasOwnProperty.call(attrs, k) || attrs[k] == null) continue;
        if (k === 'text') e.textContent = attrs[k];
        else if (k === 'cls') e.className = attrs[k];
        else e.setAttribute(k, attrs[k]);
      }
    }
    for (var i = 2; i < arguments.length; i++) append(e, arguments[i]);
    return e;
  }
  function append(parent, child) {
    if (child == null || child === false) return;
    if (Array.isArray(child)) { child.forEach(function (c) { append(parent, c); }); return; }
    parent.appendChild(typeof child === 'string' ? document.createTextNode(child) : child);
  }
  function num(v) { return typeof v === 'number' && isFinite(v); }
  // Elapsed time as mm:ss.
  function fmtClock(secs) {
    if (!num(secs) || secs < 0) secs = 0;
    var m = Math.floor(secs / 60), s = Math.floor(secs % 60);
    return (m < 10 ? '0' : '') + m + ':' + (s < 10 ? '0' : '') + s;
  }

  // ---- charts

  var charts = [];

  function niceStep(range, count) {
    var raw = range / Math.max(1, count), mag = Math.pow(10, Math.floor(Math.log10(raw))), n = raw / mag;
    return (n <= 1 ? 1 : n <= 2 ? 2 : n <= 2.5 ? 2.5 : n <= 5 ? 5 : 10) * mag;
  }
  // Round-numbered ticks from min up to the first one at or above max.
  function ticks(min, max, count) {
    if (!(max > min)) max = min + 1;
    var step = niceStep(max - min, count), out = [], top = Math.ceil(max / step - 1e-9) * step;
    for (var v = Math.ceil(min / step) * step; v <= top + step * 1e-9; v += step) out.push(+v.toPrecision(12));
    return out;
  }
  function timeTicks(max, count) {
    var steps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200], step = steps[steps.length - 1];
    for (var i = 0; i < steps.length; i++) if (max / steps[i] <= count) { step = steps[i]; break; }
    var out = [];
    for (var v = 0; v <= max + 1e-9; v += step) out.push(v);
    return out;
  }
  function svg(tag, attrs) {
    var e = document.createElementNS(SVGNS, tag);
    for (var k in attrs) if (attrs[k] != null) e.setAttribute(k, attrs[k]);
    return e;
  }

  // spec: {series: [{name, color, dash, points: [[x, y|null], ...]}], yFormat, xFormat,
  //        xTicks(max, n), xMax, logX, markers: [{x, label, kind}], bands: [{x0, x1, kind}],
  //        hlines: [{y, label, kind}], height}
  function chart(parent, spec) {
    var box = h('div', { cls: 'chart' });
    var tip = h('div', { cls: 'tip' });
    box.appendChild(tip);
    parent.appendChild(box);
    var legend = h('div', { cls: 'legend' });
    spec.series.forEach(function (s) {
      var sw = h('span', { cls: 'swatch' + (s.dash ? ' dash' : '') });
      if (s.dash) sw.style.color = s.color; else sw.style.background = s.color;
      legend.appendChild(h('span', null, sw, s.name));
    });
    parent.appendChild(legend);
    var entry = { box: box, tip: tip, spec: spec, width: 0 };
    charts.push(entry);
    draw(entry);
  }

  function draw(entry) {
    var box = entry.box, spec = entry.spec;
    var width = Math.max(240, Math.floor(box.clientWidth || 600));
    if (width === entry.width) return;
    entry.width = width;
    var old = box.querySelector('svg');
    if (old) box.removeChild(old);
    var narrow = width < 420;
    var height = spec.height || (narrow ? 190 : 230);
    var m = { top: 12, right: narrow ? 8 : 14, bottom: 26, left: narrow ? 46 : 58 };
    var iw = width - m.left - m.right, ih = height - m.top - m.bottom;

    var xMax = spec.xMax || 0, yMax = 0;
    spec.series.forEach(function (s) {
      s.points.forEach(function (p) {
        if (p[0] > xMax && !spec.xMax) xMax = p[0];
        if (p[1] != null && p[1] > yMax) yMax = p[1];
      });
    });
    // A limit far above the data would flatten it: such a line is named, not drawn.
    var seriesMax = yMax;
    (spec.hlines || []).forEach(function (l) { if (l.y > yMax && (seriesMax === 0 || l.y <= seriesMax * 2)) yMax = l.y; });
    if (!(xMax > 0)) xMax = 1;
    var yTicks = ticks(0, yMax > 0 ? yMax : 1, narrow ? 4 : 5);
    var yTop = yTicks[yTicks.length - 1];
    var sx = function (x) { return m.left + (x / xMax) * iw; };
    var sy = function (y) { return m.top + ih - (y / yTop) * ih; };

    var s = svg('svg', { width: width, height: height, viewBox: '0 0 ' + width + ' ' + height, role: 'img' });
    yTicks.forEach(function (t) {
      s.appendChild(svg('line', { 'class': 'gridline', x1: m.left, x2: m.left + iw, y1: sy(t), y2: sy(t) }));
      var label = svg('text', { x: m.left - 6, y: sy(t) + 4, 'text-anchor': 'end' });
      label.textContent = spec.yFormat(t);
      s.appendChild(label);
    });
    var xTicks = (spec.xTicks || timeTicks)(xMax, narrow ? 4 : 8);
    xTicks.forEach(function (t) {
      if (t > xMax + 1e-9) return;
      s.appendChild(svg('line', { 'class': 'axis', x1: sx(t), x2: sx(t), y1: m.top + ih, y2: m.top + ih + 4 }));
      // Labels at the edges are anchored inwards so none is cut off.
      var anchor = sx(t) > width - 24 ? 'end' : sx(t) < 24 ? 'start' : 'middle';
      var label = svg('text', { x: anchor === 'end' ? width - 1 : sx(t), y: m.top + ih + 17, 'text-anchor': anchor });
      label.textContent = (spec.xFormat || fmtClock)(t);
      s.appendChild(label);
    });
    s.appendChild(svg('line', { 'class': 'axis', x1: m.left, x2: m.left + iw, y1: m.top + ih, y2: m.top + ih }));

    (spec.bands || []).forEach(function (b) {
      s.appendChild(svg('rect', { 'class': 'band ' + b.kind, x: sx(b.x0), y: m.top, width: Math.max(1, sx(b.x1) - sx(b.x0)), height: ih }));
    });
    var placed = [];  // label boxes so far: a label that would overlap one moves a row down
    (spec.markers || []).forEach(function (mk) {
      if (mk.x < 0 || mk.x > xMax) return;
      s.appendChild(svg('line', { 'class': 'marker ' + mk.kind, x1: sx(mk.x), x2: sx(mk.x), y1: m.top, y2: m.top + ih }));
      if (mk.label && (!narrow || mk.kind === 'knee')) {
        var right = sx(mk.x) > m.left + iw * 0.7;
        // Step labels along the bottom, the knee and the end of the load along the top.
        var y = mk.kind === 'step' ? m.top + ih - 4 : m.top + 10;
        var lx = sx(mk.x) + (right ? -4 : 4), w = mk.label.length * 6.2;
        var x0 = right ? lx - w : lx, x1 = right ? lx : lx + w;
        while (placed.some(function (b) { return b.y === y && b.x0 < x1 && x0 < b.x1; })) y += mk.kind === 'step' ? -13 : 13;
        placed.push({ x0: x0, x1: x1, y: y });
        var t = svg('text', { 'class': mk.kind, x: lx, y: y, 'text-anchor': right ? 'end' : 'start' });
        t.textContent = mk.label;
        s.appendChild(t);
      }
    });
    var above = 0;
    (spec.hlines || []).forEach(function (l) {
      if (l.y > yTop) {
        var note = svg('text', { 'class': l.kind, x: m.left + 4, y: m.top + 10 + 13 * above++ });
        note.textContent = l.label + ' (above the chart)';
        s.appendChild(note);
        return;
      }
      s.appendChild(svg('line', { 'class': 'marker ' + l.kind, x1: m.left, x2: m.left + iw, y1: sy(l.y), y2: sy(l.y) }));
      var t = svg('text', { 'class': l.kind, x: m.left + 4, y: sy(l.y) - 4 });
      t.textContent = l.label;
      s.appendChild(t);
    });

    spec.series.forEach(function (se) {
      var d = '', pen = false;
      se.points.forEach(function (p) {
        if (p[1] == null) { pen = false; return; }
        d += (pen ? 'L' : 'M') + sx(p[0]).toFixed(1) + ' ' + sy(p[1]).toFixed(1);
        pen = true;
      });
      if (d) s.appendChild(svg('path', { d: d, fill: 'none', stroke: se.color, 'stroke-width': 1.8, 'stroke-dasharray': se.dash ? '5 3' : null, 'stroke-linejoin': 'round' }));
      var lone = se.points.filter(function (p, i, a) {
        return p[1] != null && (i === 0 || a[i - 1][1] == null) && (i === a.length - 1 || a[i + 1][1] == null);
      });
      lone.forEach(function (p) { s.appendChild(svg('circle', { cx: sx(p[0]), cy: sy(p[1]), r: 2.2, fill: se.color })); });
    });

    var cursor = svg('line', { 'class': 'cursor', y1: m.top, y2: m.top + ih, visibility: 'hidden' });
    s.appendChild(cursor);
    var hit = svg('rect', { x: m.left, y: m.top, width: iw, height: ih, fill: 'transparent' });
    s.appendChild(hit);
    var tip = entry.tip;
    hit.addEventListener('pointermove', function (ev) {
      var r = s.getBoundingClientRect();
      var x = (ev.clientX - r.left - m.left) / iw * xMax;
      var rows = [];
      var at = null;
      spec.series.forEach(function (se) {
        var best = null;
        se.points.forEach(function (p) { if (best == null || Math.abs(p[0] - x) < Math.abs(best[0] - x)) best = p; });
        if (best) { at = best[0]; rows.push([se, best[1]]); }
      });
      if (at == null) return;
      cursor.setAttribute('x1', sx(at));
      cursor.setAttribute('x2', sx(at));
      cursor.setAttribute('visibility', 'visible');
      tip.textContent = '';
      tip.appendChild(h('div', { text: (spec.xFormat || fmtClock)(at) }));
      rows.forEach(function (row) {
        var sw = h('span', { cls: 'swatch' });
        sw.style.background = row[0].color;
        tip.appendChild(h('div', null, sw, row[0].name + ': ' + (row[1] == null ? '-' : spec.yFormat(row[1]))));
      });
      tip.style.display = 'block';
      var left = sx(at) + 12;
      if (left + tip.offsetWidth > width) left = Math.max(0, sx(at) - tip.offsetWidth - 12);
      tip.style.left = left + 'px';
      tip.style.top = m.top + 'px';
    });
    hit.addEventListener('pointerleave', function () {
      tip.style.display = 'none';
      cursor.setAttribute('visibility', 'hidden');
    });
    box.insertBefore(s, box.firstChild);
  }

  var resizeTimer = null;
  window.addEventListener('resize', function () {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(function () { charts.forEach(draw); }, 100);
  });

  // Every chart again, at its container's width now (after the page is attached).
  function redrawAll() { charts.forEach(function (c) { c.width = 0; draw(c); }); }

  return { h: h, append: append, fmtClock: fmtClock, chart: chart, redrawAll: redrawAll };
})();
