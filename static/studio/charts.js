/* Metric charts: the run's Metrics tab and the Compare page.
 *
 * Every [data-chart] card names a JSON endpoint (data-url) that answers a plotly figure built on
 * the server from bucketed histories. This file fetches those figures (the first ones at once,
 * while plotly.js is still loading; the others as they scroll into view), draws them, and applies
 * what the toolbar asks: x axis (refetch), log scale, smoothing and, for runs grouped on the
 * Compare page, which band a group's mean carries (min to max, or ±1σ), and which runs and groups
 * the page's legend shows (restyle only). Zooming
 * refetches the zoomed range, so a long history shows full detail where you look. While a run is
 * RUNNING the charts refresh every few seconds.
 *
 * Timings for tests and benchmarks are kept in window.studioCharts.
 */
(function () {
  "use strict";

  var stats = (window.studioCharts = { requested: 0, drawn: 0, firstDrawnAt: null, errors: 0 });
  var config = readJSON("chart-config") || {};
  var state = { x: "step", log: false, smoothing: 0, spread: "range", hiddenRuns: {}, hiddenGroups: {} };
  var charts = [];
  var EAGER = 4; // charts fetched before plotly.js has even loaded
  var plotlyConfig = {
    displaylogo: false,
    responsive: true,
    modeBarButtonsToRemove: ["select2d", "lasso2d", "autoScale2d", "toggleSpikelines"],
  };

  function readJSON(id) {
    var element = document.getElementById(id);
    return element ? JSON.parse(element.textContent) : null;
  }

  var plotlyReady = new Promise(function (resolve) {
    if (window.Plotly) return resolve();
    // plotly.js is a deferred script: it has run by the time the document is parsed.
    document.addEventListener("DOMContentLoaded", function () { resolve(); });
  });

  // --- Fetching and drawing ------------------------------------------------------------------

  function pointsFor(chart) {
    // A whole history is asked for at the server's own budget, the same on every screen: that is
    // the view a worker drew ahead of time when the run ended. A zoomed range fits this chart.
    if (!chart.range && config.points) return config.points;
    var width = chart.plot.clientWidth || 600;
    return Math.max(200, Math.min(2000, Math.round(width * 1.5)));
  }

  function urlFor(chart) {
    var url = chart.url + "&x=" + state.x + "&points=" + pointsFor(chart);
    if (chart.range) url += "&from=" + chart.range[0] + "&to=" + chart.range[1];
    return url;
  }

  function load(chart) {
    if (chart.pending) return chart.pending;
    var token = (chart.token || 0) + 1;
    chart.token = token;
    stats.requested += 1;
    chart.pending = fetch(urlFor(chart), { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) {
        return response.json().then(function (body) {
          if (!response.ok) throw new Error(body.message || response.statusText);
          return body;
        });
      })
      .then(function (body) {
        return plotlyReady.then(function () {
          if (chart.token === token) return draw(chart, body);
        });
      })
      .catch(function (error) {
        stats.errors += 1;
        showNote(chart, "Could not load this chart: " + error.message, true);
      })
      .then(function () { chart.pending = null; });
    return chart.pending;
  }

  function draw(chart, body) {
    var figure = body.figure;
    chart.body = body;
    chart.raw = figure.data.map(function (trace) { return trace.y; });
    figure.layout.yaxis.type = state.log ? "log" : "linear";
    figure.layout.uirevision = state.x; // a new x axis starts unzoomed; a refresh keeps the zoom
    if (chart.range) {
      figure.layout.xaxis.range = chart.range.slice();
      figure.layout.xaxis.autorange = false;
    }
    figure.data.forEach(function (trace) { trace.visible = shownNow(trace); });
    var loading = chart.plot.querySelector(".chart-loading");
    if (loading) loading.remove();
    chart.drawing = true;
    return window.Plotly.react(chart.plot, smoothed(chart, figure.data), figure.layout, plotlyConfig).then(function () {
      chart.drawing = false;
      if (!chart.listening) listen(chart);
      stats.drawn += 1;
      if (stats.firstDrawnAt === null) stats.firstDrawnAt = performance.now();
      describe(chart, body);
      if (body.status !== "RUNNING") config.live = false;
    });
  }

  function describe(chart, body) {
    var notes = [];
    body.series.forEach(function (series) {
      if (series.sampled && body.series.length === 1) {
        notes.push(format(series.shown) + " points in " + format(series.buckets) + " buckets; the band spans each bucket's min and max");
      }
      if (series.nans) notes.push(format(series.nans) + " NaN value" + (series.nans === 1 ? "" : "s") + " not drawn");
      if (series.infs) notes.push(format(series.infs) + " infinite value" + (series.infs === 1 ? "" : "s") + " not drawn");
    });
    if (body.series.length === 0) notes.push("No points in this range.");
    showNote(chart, notes.join(" · "), false);
  }

  function showNote(chart, text, isError) {
    chart.note.textContent = text;
    chart.note.hidden = !text;
    chart.note.classList.toggle("error-note", !!isError);
  }

  function format(number) {
    return Number(number).toLocaleString("en-US");
  }

  // --- Smoothing (exponential moving average, debiased as TensorBoard does) --------------------

  function ema(values, weight) {
    var out = new Array(values.length);
    var last = 0;
    var count = 0;
    for (var i = 0; i < values.length; i++) {
      var value = values[i];
      if (value === null || !isFinite(value)) {
        out[i] = value;
        continue;
      }
      last = last * weight + (1 - weight) * value;
      count += 1;
      out[i] = weight > 0 ? last / (1 - Math.pow(weight, count)) : value;
    }
    return out;
  }

  function isBand(trace) {
    return !!(trace.meta && trace.meta.band);
  }

  function smoothed(chart, data) {
    return data.map(function (trace, index) {
      if (isBand(trace) || state.smoothing <= 0) return Object.assign({}, trace, { y: chart.raw[index] });
      return Object.assign({}, trace, { y: ema(chart.raw[index], state.smoothing) });
    });
  }

  function restyleSmoothing(chart) {
    if (!chart.body) return;
    var indices = [];
    var ys = [];
    chart.body.figure.data.forEach(function (trace, index) {
      if (isBand(trace)) return;
      indices.push(index);
      ys.push(state.smoothing > 0 ? ema(chart.raw[index], state.smoothing) : chart.raw[index]);
    });
    window.Plotly.restyle(chart.plot, { y: ys }, indices);
  }

  // --- What is shown: runs and groups picked in the page's legend, and each group's band ------

  function groupKey(value) {
    return value === null || value === undefined ? "unset" : "=" + value;
  }

  function shownNow(trace) {
    var meta = trace.meta || {};
    if (meta.run_id !== undefined) return !state.hiddenRuns[meta.run_id];
    if (meta.group !== undefined && state.hiddenGroups[groupKey(meta.group)]) return false;
    if (meta.band && meta.spread) return meta.spread === state.spread;
    return true;
  }

  function restyleShown(chart) {
    if (!chart.body) return;
    var visible = chart.plot.data.map(shownNow);
    window.Plotly.restyle(chart.plot, { visible: visible });
  }

  // --- Zoom: refetch the visible range at full resolution -------------------------------------

  function listen(chart) {
    chart.listening = true;
    var timer = null;
    chart.plot.on("plotly_relayout", function (event) {
      if (chart.drawing) return;
      var range = null;
      if (event["xaxis.range[0]"] !== undefined) range = [event["xaxis.range[0]"], event["xaxis.range[1]"]];
      else if (event["xaxis.range"]) range = event["xaxis.range"].slice();
      else if (!event["xaxis.autorange"]) return;
      var wasSampled = chart.body && chart.body.series.some(function (series) { return series.sampled; });
      if (!range && !chart.range) return;
      if (range && !wasSampled && !chart.range) return; // every point is drawn already
      // Steps are whole numbers: widen to them, so the points at the edges stay in.
      if (range && state.x === "step") range = [Math.floor(range[0]), Math.ceil(range[1])];
      chart.range = range;
      clearTimeout(timer);
      timer = setTimeout(function () { load(chart); }, 150);
    });
  }

  // --- Wiring --------------------------------------------------------------------------------

  function setUp() {
    var cards = document.querySelectorAll("[data-chart]");
    Array.prototype.forEach.call(cards, function (card) {
      charts.push({
        card: card,
        key: card.getAttribute("data-key"),
        url: card.getAttribute("data-url"),
        plot: card.querySelector(".chart"),
        note: card.querySelector(".chart-note"),
        range: null,
        visible: false,
      });
    });
    charts.slice(0, EAGER).forEach(function (chart) { chart.visible = true; load(chart); });
    if ("IntersectionObserver" in window) {
      var observer = new IntersectionObserver(function (entries) {
        entries.forEach(function (entry) {
          var chart = charts.find(function (c) { return c.card === entry.target; });
          chart.visible = entry.isIntersecting;
          if (entry.isIntersecting && !chart.body && !chart.pending) load(chart);
        });
      }, { rootMargin: "300px 0px" });
      charts.forEach(function (chart) { observer.observe(chart.card); });
    } else {
      charts.forEach(function (chart) { chart.visible = true; load(chart); });
    }
    wireToolbar();
    if (config.live) startLive();
    drawParcoords();
  }

  function wireToolbar() {
    Array.prototype.forEach.call(document.querySelectorAll("input[name=x-axis]"), function (radio) {
      radio.addEventListener("change", function () {
        if (!radio.checked) return;
        state.x = radio.value;
        charts.forEach(function (chart) {
          chart.range = null;
          chart.body = null;
          if (chart.visible) load(chart);
        });
      });
    });
    var log = document.getElementById("log-scale");
    if (log) {
      log.addEventListener("change", function () {
        state.log = log.checked;
        charts.forEach(function (chart) {
          if (chart.body) window.Plotly.relayout(chart.plot, { "yaxis.type": state.log ? "log" : "linear" });
        });
      });
    }
    var smoothing = document.getElementById("smoothing");
    var output = document.getElementById("smoothing-value");
    if (smoothing) {
      var timer = null;
      smoothing.addEventListener("input", function () {
        state.smoothing = Number(smoothing.value);
        output.textContent = state.smoothing.toFixed(2).replace(/\.?0+$/, "") || "0";
        clearTimeout(timer);
        timer = setTimeout(function () { charts.forEach(restyleSmoothing); }, 30);
      });
    }
    Array.prototype.forEach.call(document.querySelectorAll("input[name=band]"), function (radio) {
      radio.addEventListener("change", function () {
        if (!radio.checked) return;
        state.spread = radio.value;
        charts.forEach(restyleShown);
      });
    });
    Array.prototype.forEach.call(document.querySelectorAll("input[data-shows-run], input[data-shows-group]"), function (box) {
      box.addEventListener("change", function () {
        var run = box.getAttribute("data-shows-run");
        if (run) state.hiddenRuns[run] = !box.checked;
        else state.hiddenGroups[box.getAttribute("data-shows-group")] = !box.checked;
        charts.forEach(restyleShown);
      });
    });
    var filter = document.getElementById("chart-filter");
    if (filter) {
      filter.addEventListener("input", function () {
        var text = filter.value.trim().toLowerCase();
        var shown = 0;
        charts.forEach(function (chart) {
          var match = !text || chart.key.toLowerCase().indexOf(text) !== -1;
          chart.card.hidden = !match;
          if (match) shown += 1;
        });
        var none = document.getElementById("no-match");
        if (none) none.hidden = shown > 0;
      });
    }
    var differences = document.getElementById("differences-only");
    if (differences) {
      differences.addEventListener("change", function () {
        document.getElementById("compare-table-wrap").classList.toggle("only-differences", differences.checked);
      });
    }
  }

  function startLive() {
    var seconds = config.refreshSeconds || 10;
    var timer = setInterval(function () {
      if (!config.live) {
        clearInterval(timer);
        var badge = document.getElementById("live");
        if (badge) badge.classList.add("stopped");
        return;
      }
      if (document.hidden) return;
      charts.forEach(function (chart) {
        if (chart.visible && chart.body) load(chart);
      });
    }, seconds * 1000);
  }

  function drawParcoords() {
    var figure = readJSON("parcoords-figure");
    var element = document.getElementById("parcoords");
    if (!figure || !element) return;
    plotlyReady.then(function () {
      window.Plotly.newPlot(element, figure.data, figure.layout, plotlyConfig);
    });
  }

  setUp();
})();
